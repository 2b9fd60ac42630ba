// Bundles the command (dist/src/cli/main.js and the modules it imports) into one file,
// dist/src/cli/main.bundle.mjs, which bin/basyn.js loads: node's ES module loader
// resolves, reads and compiles each of a hundred files on its own, and one file
// starts about 0.1 s of CPU sooner on the 2-core development machine (docs/design.md).
// It sits beside main.js, so the paths it finds relative to itself (the agent bundle,
// the hashing worker, the pieces: all "../../" from dist/src/<folder>/) still hold.
// Packages stay imports (an installed basyn has its node_modules); the library keeps
// its separate modules (dist/src/index.js).
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: 'dist/src/cli/main.bundle.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
