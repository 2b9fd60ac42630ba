/**
 * A zero block bound for a regular file is not written where the file already reads
 * zeros: a sparse destination image stays sparse through a first bitmap run (every
 * block sent), a COPY and a SYNC, PUSH and PULL, locally, through the local agent and
 * over ssh. The bytes still match (cmp), the image's allocated blocks stay close to
 * its data, the device counters and a local run's traffic count only what was really
 * written, and the bitmap that says the destination holds the skipped blocks is right
 * (the next run finds nothing to send). Zero blocks over data are still written.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { allocatedBytes, sparseImage } from '../test-support/fault-fixtures.js';
import { cmp, seededBytes, seededImage } from '../test-support/images.js';
import { parseStat, runBasyn } from '../test-support/run-basyn.js';
import { allPlaces, describeRun, jsonOf } from '../test-support/run-places.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const BLOCK = 1024 * 1024;
const SIZE = 64 * BLOCK;
/** Blocks of the source holding data (the last one only 1000 bytes in its middle); the rest are zeros. */
const DATA_BLOCKS = [0, 17, 40, 63];
const DATA_BYTES = DATA_BLOCKS.length * BLOCK;
/** What a file system may allocate besides the data: its own metadata. */
const SLACK = BLOCK;

const places = await allPlaces();
const dir = tempDirForFile('basyn-sparse-');
let n = 0;

function mostlyZeros(): Buffer {
  const b = Buffer.alloc(SIZE);
  for (const i of DATA_BLOCKS.slice(0, -1)) seededBytes(BLOCK, 70 + i).copy(b, i * BLOCK);
  seededBytes(1000, 99).copy(b, 63 * BLOCK + 500 * 1024);
  return b;
}

async function pair(): Promise<{ source: string; destination: string }> {
  n++;
  const source = join(dir.path, `source${n}.img`);
  await writeFile(source, mostlyZeros());
  const destination = join(dir.path, `sparse${n}.img`);
  await sparseImage(destination, SIZE);
  return { source, destination };
}

function sides(action: 'PUSH' | 'PULL', source: string, destination: string): string[] {
  return action === 'PUSH' ? ['-l', source, '-r', destination] : ['-l', destination, '-r', source];
}

for (const place of places) {
  const skip = place.skip ?? false;
  for (const action of ['PUSH', 'PULL'] as const) {
    const destinationSide = action === 'PUSH' ? 'remote' : 'local';
    const cases: { what: string; args: (bitmap: string) => string[] }[] = [
      { what: 'a first bitmap run', args: (bitmap) => ['-m', 'SYNC', '-b', bitmap] },
      { what: 'a COPY', args: () => ['-m', 'COPY'] },
      { what: 'a SYNC', args: () => ['-m', 'SYNC'] },
    ];
    for (const c of cases) {
      test(`${c.what} into a sparse image writes only the data and leaves it sparse ${place.name}, ${action}`, { skip }, async () => {
        const { source, destination } = await pair();
        const bitmap = join(dir.path, `bitmap${n}`);
        const r = await runBasyn(
          [...sides(action, source, destination), ...place.hostArgs, '-a', action, ...c.args(bitmap), '--buffer', String(BLOCK / 1024), '--json'],
          { env: place.env },
        );
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(await cmp(source, destination), 'cmp: the destination differs from the source');
        const allocated = await allocatedBytes(destination);
        assert.ok(allocated <= DATA_BYTES + SLACK, `the image was filled: ${allocated} bytes allocated for ${DATA_BYTES} bytes of data`);
        const j = jsonOf(r);
        assert.equal(j[destinationSide].bytesWritten, DATA_BYTES, 'the destination counts only the bytes it wrote');
        if (!place.agent) {
          // In-process the traffic is the data written: the zero blocks skipped don't count.
          assert.deepEqual(j.wire, { rx: action === 'PULL' ? DATA_BYTES : 0, tx: action === 'PUSH' ? DATA_BYTES : 0, total: DATA_BYTES });
        }
        if (c.what.includes('bitmap')) {
          // The bitmap holds the skipped zero blocks as written: the next run sends nothing.
          const again = await runBasyn(
            [...sides(action, source, destination), ...place.hostArgs, '-a', action, ...c.args(bitmap), '--buffer', String(BLOCK / 1024), '--json'],
            { env: place.env },
          );
          assert.equal(again.code, 0, describeRun(again));
          assert.equal(jsonOf(again).blocks.differing, 0, describeRun(again));
          assert.ok(await cmp(source, destination));
        }
      });
    }
  }

  test(`zero blocks over data are still written (COPY and a first bitmap run) ${place.name}`, { skip }, async () => {
    n++;
    const source = join(dir.path, `source${n}.img`);
    await writeFile(source, mostlyZeros());
    for (const mode of [['-m', 'COPY'], ['-m', 'SYNC', '-b', join(dir.path, `bitmap${n}`)]]) {
      // Old data everywhere, but the first 4 KiB of each block zero: a look at the start
      // of a block must not take it for zeros.
      const old = seededImage(SIZE, 5 + n);
      for (let at = 0; at < SIZE; at += BLOCK) old.fill(0, at, at + 4096);
      const destination = join(dir.path, `old${n}.img`);
      await writeFile(destination, old);
      const r = await runBasyn(['-l', source, '-r', destination, ...place.hostArgs, '-a', 'PUSH', ...mode, '--buffer', String(BLOCK / 1024), '--stat'], { env: place.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(source, destination), `cmp after ${mode.join(' ')}: zero blocks over old data were not written`);
      if (!place.agent) assert.equal(parseStat(r.stdout)?.tx, SIZE, r.stdout);
    }
  });
}
