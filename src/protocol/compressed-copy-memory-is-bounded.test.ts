/**
 * A COPY of compressible data at default settings keeps the command and the agent
 * within issue 14's 150 MiB: with --compress=auto (zstd on both ends; on node 20
 * the WASM build on threads of its own) and with --compress=zstd. Threads cost 25-30
 * MiB each and compressed blocks left to the collector tens more: the command of a
 * PUSH COPY went to 176-192 MiB before the pool reused its buffers and left a core to
 * the event loop (zstd-pool.ts, codec-threads.ts). Beside
 * src/engine/peak-memory-is-bounded-at-every-buffer-size.test.ts, which covers zeros
 * and random data (nothing to compress) across --buffer sizes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cmp } from '../test-support/images.js';
import { runWithPeakRss } from '../test-support/peak-rss.js';
import { agentPlaces } from '../test-support/run-places.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { writeMixedImage, writeSparseImage } from '../../bench/images.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
/** Issue 14's bound for every mode and data kind at default settings. */
const BOUND_MIB = 150;

const dir = tempDirForFile('basyn-compressed-copy-memory-');
const places = await agentPlaces();

describe('a COPY of compressible data stays within the memory bound', { concurrency: false }, () => {
  for (const place of places) {
    describe(place.name, { skip: place.skip }, () => {
      for (const compress of [[], ['--compress=zstd']]) {
        const named = compress.length === 0 ? 'default options' : compress.join(' ');
        test(`PUSH COPY of ${SIZE / MiB} MiB of mixed data, ${named}: command and agent within ${BOUND_MIB} MiB`, { timeout: 240_000 }, async (t) => {
          if (process.platform !== 'linux') return t.skip('reads /proc');
          const source = join(dir.path, 'mixed.img');
          await writeMixedImage(source, SIZE, 21);
          const destination = join(dir.path, 'destination.img');
          await writeSparseImage(destination, SIZE);
          const args = ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'COPY', '--json', ...compress, ...place.hostArgs];
          const r = await runWithPeakRss(args, { env: place.env, sshdPort: place.sshd?.port, capMiB: BOUND_MIB, timeoutMs: 200_000 });
          const figures = `command ${r.commandMiB.toFixed(0)} MiB, agent ${r.agentMiB?.toFixed(0) ?? '-'} MiB, ${r.seconds.toFixed(1)} s`;
          t.diagnostic(figures);
          assert.equal(r.overCap, undefined, `killed over ${BOUND_MIB} MiB: ${r.overCap} (${figures})`);
          assert.equal(r.code, 0, `${figures}; stderr: ${r.stderr}`);
          // Compressed with zstd: the case this file is about, not raw blocks.
          assert.match(r.stdout, /zstd/, `no zstd in the report: ${r.stdout.slice(0, 400)}`);
          assert.ok(r.commandMiB <= BOUND_MIB, figures);
          assert.ok(r.agentMiB !== undefined && r.agentMiB <= BOUND_MIB, `the agent was not measured or went past the bound: ${figures}`);
          assert.ok(await cmp(source, destination), 'the destination differs from the source');
        });
      }
    });
  }
});
