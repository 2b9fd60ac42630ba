/**
 * Blocks longer than a piece (4 MiB) are read, hashed, compared, sent and written a
 * piece at a time. A block size that is not a multiple of the piece (5000 KiB: pieces
 * of 4096 and 904 KiB) on a device whose size is a multiple of neither puts piece and
 * block boundaries everywhere a mistake could hide: SYNC (with --chunk smaller and
 * larger than a piece), COPY counting blocks, not pieces, and a bitmap's first and
 * second runs (the second one's spot check hashes whole blocks on the destination),
 * in-process, through the local agent and over ssh, with cmp after every run.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cmp, devicesFor, imagePair, scribble } from '../test-support/images.js';
import { jsonOf } from '../test-support/run-places.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { allTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { scatteredOffsets, transferAndCompare } from '../test-support/transfer.js';

const KiB = 1024;
const KIB = 5000;
const BLOCK = KIB * KiB;
/** Two blocks and part of a third, whose last piece is short too. */
const SIZE = 2 * BLOCK + 4 * 1024 * KiB + 4097;

const dir = tempDirForFile('basyn-long-blocks-');

for (const { target, skip } of await allTargets()) {
  describe(`blocks longer than a piece, ${target.name}`, { skip }, () => {
    test(`--buffer=${KIB}: PUSH SYNC`, async () => {
      await transferAndCompare(dir.path, target, 'PUSH', ['-m', 'SYNC', `--buffer=${KIB}`], SIZE, scatteredOffsets(SIZE, BLOCK));
    });
    test(`--buffer=${KIB}: PULL SYNC --chunk=1000`, async () => {
      await transferAndCompare(dir.path, target, 'PULL', ['-m', 'SYNC', `--buffer=${KIB}`, '--chunk=1000'], SIZE, scatteredOffsets(SIZE, BLOCK));
    });
    test(`--buffer=${2 * KIB}: PUSH SYNC --chunk=${KIB} (chunks longer than a piece)`, async () => {
      await transferAndCompare(dir.path, target, 'PUSH', ['-m', 'SYNC', `--buffer=${2 * KIB}`, `--chunk=${KIB}`], SIZE, scatteredOffsets(SIZE, BLOCK));
    });

    test(`--buffer=${KIB}: PULL COPY counts blocks, not pieces`, async () => {
      const p = await imagePair(dir.path, `copy-${target.name}`, SIZE, 41, 'all');
      const { local, remote } = devicesFor('PULL', p);
      const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', 'PULL', '-m', 'COPY', `--buffer=${KIB}`, '--json'], { env: target.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(p.source, p.destination), 'cmp differs after COPY');
      const j = jsonOf(r);
      assert.equal(j.writes, Math.ceil(SIZE / BLOCK));
      assert.equal(j.blocks.differing, Math.ceil(SIZE / BLOCK));
      assert.equal(j.bytesSent, SIZE);
    });

    test(`--buffer=${KIB}: a bitmap's first and second PUSH runs`, async () => {
      const p = await imagePair(dir.path, `bitmap-${target.name}`, SIZE, 43, 'all');
      const bitmap = join(dir.path, `bitmap-${target.name}.bitmap`);
      await rm(bitmap, { force: true });
      const args = ['-l', p.source, '-r', p.destination, ...target.args, '-a', 'PUSH', '-m', 'SYNC', `--buffer=${KIB}`, '-b', bitmap, '--json'];
      const first = await runBasyn(args, { env: target.env });
      assert.equal(first.code, 0, describeRun(first));
      assert.ok(await cmp(p.source, p.destination), 'cmp differs after the first bitmap run');
      // A change in the second block, across a piece boundary inside it.
      await scribble(p.source, [BLOCK + 4 * 1024 * KiB - 50], 100, 44);
      const second = await runBasyn(args, { env: target.env });
      assert.equal(second.code, 0, describeRun(second));
      assert.ok(await cmp(p.source, p.destination), 'cmp differs after the second bitmap run');
      const j = jsonOf(second);
      assert.equal(j.blocks.differing, 1);
      assert.ok(j.bitmap.spotChecks >= 1, `the second run's spot check checked no block: ${JSON.stringify(j.bitmap)}`);
    });
  });
}
