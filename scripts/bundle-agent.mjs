// Bundles what travels to the remote host: the agent, with the hashing worker's
// source inlined, as one self-contained CommonJS file (the remote host has no
// node_modules and no files of ours). Two variants: "core" hashes with node:crypto
// only and is small; "full" also carries hash-wasm for XXH128 and BLAKE3. Each is
// also stored deflated (.z), which is what goes over the wire: at 50 ms of round
// trip, TCP's slow start makes every 100 KiB cost about one more round trip.
import { readFile, writeFile } from 'node:fs/promises';
import { deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';

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

for (const variant of ['core', 'full']) {
  // The core variant leaves hash-wasm out: loadDigest only imports it for XXH128 and BLAKE3.
  const external = variant === 'core' ? ['hash-wasm'] : [];
  const workerFile = `dist/digest-worker.${variant}.cjs`;
  await build({ ...common, external, entryPoints: ['src/hash/digest-worker.ts'], outfile: workerFile });
  const worker = await readFile(workerFile, 'utf8');
  const agentFile = `dist/agent.${variant}.cjs`;
  await build({
    ...common,
    external,
    entryPoints: ['src/agent/agent-main.ts'],
    outfile: agentFile,
    define: { __BASYN_DIGEST_WORKER__: JSON.stringify(worker) },
  });
  await writeFile(`${agentFile}.z`, deflateRawSync(await readFile(agentFile), { level: 9 }));
}
