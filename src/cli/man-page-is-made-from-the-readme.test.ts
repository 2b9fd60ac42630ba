/**
 * man/basyn.1 is made from the README by the build: it is in step with the README
 * and package.json as they are now, names every option of the schema in its OPTIONS
 * section, carries no Markdown, and man renders it without a warning.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPTION_SCHEMA } from '../options/option-schema.js';
import { REPO_ROOT } from '../test-support/paths.js';
import { manPage } from './man-page.js';

const MAN_FILE = join(REPO_ROOT, 'man', 'basyn.1');

async function current(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; description: string };
  return manPage({ readme: await readFile(join(REPO_ROOT, 'README.md'), 'utf8'), version: pkg.version, description: pkg.description });
}

test('the built man page is the one the README and package.json make now', async () => {
  assert.equal(await readFile(MAN_FILE, 'utf8'), await current(), 'man/basyn.1 is stale: run npm run build');
});

test('package.json installs the man page', async () => {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { man: string[]; files: string[] };
  assert.deepEqual(pkg.man, ['./man/basyn.1']);
  assert.ok(pkg.files.includes('man/'));
});

test('every option of the schema is described in the OPTIONS section', async () => {
  const page = await current();
  const options = page.slice(page.indexOf('\n.SH OPTIONS\n'), page.indexOf('\n.SH ', page.indexOf('\n.SH OPTIONS\n') + 1));
  for (const entry of OPTION_SCHEMA) {
    assert.ok(options.includes(`\\fB\\-\\-${entry.long.replace(/-/g, '\\-')}`), `--${entry.long} is not in the man page's OPTIONS`);
    if (entry.short !== undefined) assert.ok(options.includes(`\\fB\\-${entry.short}`), `-${entry.short} is not in the man page's OPTIONS`);
  }
});

test('no Markdown is left in the man page', async () => {
  const page = await current();
  for (const markdown of ['`', '**', '](', '\n## ', '\n### ', '\n|']) assert.ok(!page.includes(markdown), `the man page holds ${JSON.stringify(markdown)}`);
});

test('man renders the page without a warning', async (t) => {
  if (spawnSync('man', ['--version']).error !== undefined) {
    if (process.env.CI === 'true') assert.fail('man is not installed (.ci/run installs man-db)');
    return t.skip('man is not installed');
  }
  const r = spawnSync('man', ['-l', MAN_FILE], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '', MANPAGER: 'cat', PAGER: 'cat' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^BASYN\(1\)/);
  assert.match(r.stdout, /\n {7}--remote-node=PATH\n/);
});
