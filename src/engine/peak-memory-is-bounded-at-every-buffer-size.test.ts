/**
 * Peak RSS of the basyn command and of its agent stays within 150 MiB at small
 * --buffer sizes, where each block is a tiny frame but a whole object in flight:
 * COPY of zeros, SYNC of random data into an empty image, a first bitmap run, PUSH
 * and PULL, in-process, through the local agent and over ssh. The devices (64 MiB)
 * are big enough that windows bounded by bytes alone, or waits that cost O(n) per
 * item, go far past the bound; a run that passes it is killed at once, so a leak
 * fails in seconds. At --buffer 65536 a block is 64 MiB: it must travel in pieces,
 * never be held whole in several places. The whole matrix is bench/peak-rss-table.ts.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cmp, writeImage } from '../test-support/images.js';
import { runWithPeakRss } from '../test-support/peak-rss.js';
import { allPlaces } from '../test-support/run-places.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { writeSparseImage } from '../../bench/images.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
/** The bound README.md promises for --buffer up to 65536 KiB. */
const BOUND_MIB = 150;

interface Case {
  mode: 'COPY' | 'SYNC' | 'BITMAP';
  data: 'zero' | 'random';
  action: 'PUSH' | 'PULL';
  kib: number;
  /** Where the case runs (the slow ones not everywhere, to keep the file to a few minutes). */
  places: ('locally' | 'through a local agent' | 'over ssh')[];
}

const EVERYWHERE: Case['places'] = ['locally', 'through a local agent', 'over ssh'];

// Each case is one the old code took past the bound: GBs, or killed at the cap, at
// small buffers; at --buffer 65536, whole 64 MiB blocks held in several places at once.
const CASES: Case[] = [
  { mode: 'COPY', data: 'zero', action: 'PUSH', kib: 16, places: EVERYWHERE },
  { mode: 'COPY', data: 'random', action: 'PULL', kib: 4, places: EVERYWHERE },
  { mode: 'SYNC', data: 'zero', action: 'PULL', kib: 4, places: ['through a local agent', 'over ssh'] },
  { mode: 'SYNC', data: 'random', action: 'PUSH', kib: 4, places: ['locally'] },
  // Small random blocks must not start a zstd engine only to send every block raw (138-166 MiB when they did).
  { mode: 'SYNC', data: 'random', action: 'PUSH', kib: 4, places: ['through a local agent', 'over ssh'] },
  { mode: 'BITMAP', data: 'random', action: 'PUSH', kib: 4, places: ['locally', 'through a local agent'] },
  { mode: 'COPY', data: 'zero', action: 'PUSH', kib: 65536, places: ['locally', 'over ssh'] },
  { mode: 'SYNC', data: 'random', action: 'PUSH', kib: 65536, places: EVERYWHERE },
  { mode: 'SYNC', data: 'zero', action: 'PULL', kib: 65536, places: ['through a local agent'] },
  { mode: 'BITMAP', data: 'zero', action: 'PUSH', kib: 65536, places: ['locally', 'over ssh'] },
];

const dir = tempDirForFile('basyn-peak-memory-');
const places = await allPlaces();

describe('peak memory is bounded at every --buffer size', { concurrency: false }, () => {
  for (const place of places) {
    describe(place.name, { skip: place.skip }, () => {
      for (const c of CASES.filter((c) => c.places.includes(place.name as Case['places'][number]))) {
        test(`${c.mode} of ${SIZE / MiB} MiB of ${c.data} data, ${c.action}, --buffer ${c.kib}: command and agent stay within ${BOUND_MIB} MiB`, { timeout: 240_000 }, async (t) => {
          if (process.platform !== 'linux') return t.skip('reads /proc');
          const source = join(dir.path, 'source.img');
          const destination = join(dir.path, 'destination.img');
          const bitmap = join(dir.path, 'run.bitmap');
          await rm(bitmap, { force: true });
          if (c.data === 'zero') await writeSparseImage(source, SIZE);
          else await writeImage(source, SIZE, 14);
          // SYNC must move every block: zeros go onto random data, random data onto zeros.
          if (c.mode === 'SYNC' && c.data === 'zero') await writeImage(destination, SIZE, 15);
          else await writeSparseImage(destination, SIZE);
          const [local, remote] = c.action === 'PUSH' ? [source, destination] : [destination, source];
          const args = [
            '-l', local, '-r', remote, '-a', c.action, '-m', c.mode === 'BITMAP' ? 'SYNC' : c.mode, `--buffer=${c.kib}`,
            ...(c.mode === 'BITMAP' ? ['-b', bitmap] : []), ...place.hostArgs,
          ];
          const r = await runWithPeakRss(args, { env: place.env, sshdPort: place.sshd?.port, capMiB: BOUND_MIB, timeoutMs: 200_000 });
          const figures = `command ${r.commandMiB.toFixed(0)} MiB, agent ${r.agentMiB?.toFixed(0) ?? '-'} MiB, ${r.seconds.toFixed(1)} s`;
          t.diagnostic(figures);
          assert.equal(r.overCap, undefined, `killed over ${BOUND_MIB} MiB: ${r.overCap} (${figures})`);
          assert.equal(r.code, 0, `${figures}; stderr: ${r.stderr}`);
          assert.ok(r.commandMiB <= BOUND_MIB, figures);
          if (place.agent) assert.ok(r.agentMiB !== undefined && r.agentMiB <= BOUND_MIB, `the agent was not measured or went past the bound: ${figures}`);
          assert.ok(await cmp(source, destination), 'the destination differs from the source');
        });
      }
    });
  }
});
