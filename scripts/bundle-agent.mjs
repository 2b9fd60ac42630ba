// Bundles what travels to the remote host: the agent, with the hashing worker's
// source inlined, as one self-contained CommonJS file (the remote host has no
// node_modules and no files of ours), and each piece (src/pieces/agent-pieces.ts:
// WebAssembly modules a run sends only when it needs them) as a CommonJS file of its
// own. Each is also stored deflated (.z), which is what goes over the wire: at 50 ms
// of round trip, TCP's slow start makes every 100 KiB cost about one more round trip.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';
import { PIECES } from '../dist/src/pieces/agent-pieces.js';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  // import.meta.url is only read where the worker source is not inlined.
  logOverride: { 'empty-import-meta': 'silent' },
};
// Inside the bundles pieces come only from what the client sent, never from files.
const bundled = { define: { __BASYN_BUNDLED__: 'true' } };

async function deflated(file, nameLine = '') {
  await writeFile(`${file}.z`, deflateRawSync(Buffer.concat([Buffer.from(nameLine), await readFile(file)]), { level: 9 }));
}

const workerFile = 'dist/digest-worker.cjs';
await build({ ...common, ...bundled, entryPoints: ['src/hash/digest-worker.ts'], outfile: workerFile });
const worker = await readFile(workerFile, 'utf8');
// The WASM zstd's threads (src/protocol/zstd-pool.ts), inlined the same way.
const zstdWorkerFile = 'dist/zstd-worker.cjs';
await build({ ...common, ...bundled, entryPoints: ['src/protocol/zstd-worker.ts'], outfile: zstdWorkerFile });
const zstdWorker = await readFile(zstdWorkerFile, 'utf8');
const agentFile = 'dist/agent.cjs';
await build({
  ...common,
  entryPoints: ['src/agent/agent-main.ts'],
  outfile: agentFile,
  define: { ...bundled.define, __BASYN_DIGEST_WORKER__: JSON.stringify(worker), __BASYN_ZSTD_WORKER__: JSON.stringify(zstdWorker) },
});
await deflated(agentFile);

await mkdir('dist/pieces', { recursive: true });
for (const [name, entry] of Object.entries(PIECES)) {
  const file = `dist/pieces/${name}.cjs`;
  await build({ ...common, entryPoints: [entry], outfile: file });
  // On the wire a piece's frame begins with its name (agent-bootstrap.ts).
  await deflated(file, `${name}\n`);
}
