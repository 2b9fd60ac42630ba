// Writes man/basyn.1 from README.md (run by `npm run build`, after tsc): the man page
// is the README's user sections in roff, so it is never edited by hand.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { manPage } from '../dist/src/cli/man-page.js';

const pkg = JSON.parse(await readFile('package.json', 'utf8'));
const readme = await readFile('README.md', 'utf8');
await mkdir('man', { recursive: true });
await writeFile('man/basyn.1', manPage({ readme, version: pkg.version, description: pkg.description }));
