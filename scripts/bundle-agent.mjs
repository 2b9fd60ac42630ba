// Bundles what travels to the remote host: the hashing worker (hash-wasm included)
// and the agent, with the worker's source inlined, each one self-contained CommonJS
// file: the remote host has no node_modules and no files of ours.
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

await build({ ...common, entryPoints: ['src/hash/digest-worker.ts'], outfile: 'dist/digest-worker.bundle.cjs' });
const worker = await readFile('dist/digest-worker.bundle.cjs', 'utf8');
await build({
  ...common,
  entryPoints: ['src/agent/agent-main.ts'],
  outfile: 'dist/agent.bundle.cjs',
  define: { __BASYN_DIGEST_WORKER__: JSON.stringify(worker) },
  // import.meta.url is only read where the worker source is not inlined.
  logOverride: { 'empty-import-meta': 'silent' },
});
