/** Where the checkout's files are, seen from the compiled tests in dist/src/. */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BASYN_BIN = fileURLToPath(new URL('../../../bin/basyn.js', import.meta.url));
