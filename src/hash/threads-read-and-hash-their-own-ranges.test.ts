/**
 * Scans on several threads (range-lanes.ts: this thread and hashing threads, each
 * reading its own ranges) give exactly what one thread gives: the same digests for
 * every block size (smaller than a read piece, equal to it, larger, odd) and device
 * size (odd, shorter than one block), and, comparing two files, exactly the blocks that
 * differ, wherever in a block or piece the difference lies. A read that fails on a
 * thread is the device's error, naming it and the offset. End to end, a bitmap SYNC
 * (XXH128 and SHA1) and a local SYNC long enough to use the threads move exactly the
 * changed blocks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalDevice } from '../device/local-device.js';
import { DeviceError } from '../errors.js';
import { hashByName, loadDigest } from './hash-algorithms.js';
import { cmp, imagePair, scribble, seededImage } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { RANGE_PIECE_BYTES } from './range-jobs.js';
import { THREADS_FROM_BYTES } from './range-lanes.js';

const dir = tempDirForFile();
// Long enough for the scans to start hashing threads besides this one.
const SIZE = THREADS_FROM_BYTES + 9 * 1024 * 1024 + 4321;

async function open(path: string, hashName: string): Promise<LocalDevice> {
  const hash = hashByName(hashName)!;
  return LocalDevice.open(path, { writable: false, hash, digest: await loadDigest(hash) });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

for (const hashName of ['XXH128', 'SHA1']) {
  test(`${hashName}: digests read and hashed on 2 and 3 threads equal those of one thread, for every block size`, async () => {
    const path = join(dir.path, `d-${hashName}.img`);
    await writeFile(path, seededImage(SIZE, 1));
    const device = await open(path, hashName);
    try {
      for (const blockSize of [4096, 100_000, RANGE_PIECE_BYTES, 3 * 1024 * 1024 + 7, 16 * 1024 * 1024]) {
        const one = await collect(device.digests(0, SIZE, blockSize, undefined, { threads: 1 }));
        for (const threads of [2, 3]) {
          const many = await collect(device.digests(0, SIZE, blockSize, undefined, { threads }));
          assert.deepEqual(many.map((d) => [d.offset, d.length, d.digest.toString('hex')]), one.map((d) => [d.offset, d.length, d.digest.toString('hex')]), `block ${blockSize}, ${threads} threads`);
        }
      }
      // A range that does not start at 0, and one shorter than a block.
      const part = await collect(device.digests(4096, 4096 + 10_000, 1024 * 1024, undefined, { threads: 2 }));
      const alone = await collect(device.digests(4096, 4096 + 10_000, 1024 * 1024, undefined, { threads: 1 }));
      assert.equal(part.length, 1);
      assert.ok(part[0]!.digest.equals(alone[0]!.digest));
    } finally {
      await device.close();
    }
  });
}

test('comparing two files on threads finds exactly the blocks that differ', async () => {
  const a = join(dir.path, 'c-a.img');
  const b = join(dir.path, 'c-b.img');
  const data = seededImage(SIZE, 2);
  await writeFile(a, data);
  const changed = Buffer.from(data);
  const blockSize = 1024 * 1024;
  // First byte, a piece boundary inside a block, the last byte of a block, the short last block's last byte.
  const offsets = [0, 3 * blockSize + RANGE_PIECE_BYTES, 6 * blockSize - 1, 40 * blockSize + 77, SIZE - 1];
  for (const at of offsets) changed[at] = changed[at]! ^ 0x5a;
  await writeFile(b, changed);
  const [x, y] = [await open(a, 'XXH128'), await open(b, 'XXH128')];
  try {
    for (const size of [blockSize, 100_000, 16 * 1024 * 1024]) {
      const pairs = await collect(x.comparedWith(y, SIZE, size, 2));
      const differing = pairs.filter(([s, d]) => !s.digest.equals(d.digest)).map(([s]) => s.offset);
      const expected = [...new Set(offsets.map((at) => Math.floor(at / size) * size))];
      assert.deepEqual(differing, expected, `block ${size}`);
      assert.equal(pairs.at(-1)![0].offset + pairs.at(-1)![0].length, SIZE);
    }
    assert.equal((await x.status()).io.bytesRead, 3 * SIZE);
  } finally {
    await x.close();
    await y.close();
  }
});

test('a device cut short under a threaded scan fails naming it and the offset', async () => {
  const path = join(dir.path, 'short.img');
  await writeFile(path, seededImage(SIZE, 3));
  const device = await open(path, 'XXH128');
  try {
    await truncate(path, THREADS_FROM_BYTES - 5 * 1024 * 1024);
    await assert.rejects(collect(device.digests(0, SIZE, 1024 * 1024, undefined, { threads: 2 })), (error: unknown) => {
      assert.ok(error instanceof DeviceError, String(error));
      assert.match(error.message, /unexpected end of data/);
      assert.match(error.message, /short\.img/);
      assert.match(error.message, new RegExp(String(THREADS_FROM_BYTES - 5 * 1024 * 1024)));
      return true;
    });
  } finally {
    await device.close();
  }
});

const CHANGES = [5 * 1024 * 1024 + 3, 40 * 1024 * 1024 + 1, SIZE - 10];

for (const hash of ['XXH128', 'SHA1']) {
  test(`a bitmap SYNC hashed on threads (${hash}) sends exactly the changed blocks`, async () => {
    const p = await imagePair(dir.path, `bitmap-${hash}`, SIZE, 7, 'none');
    const bitmap = join(dir.path, `bitmap-${hash}.bitmap`);
    const args = ['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'SYNC', `--hash=${hash}`, '-b', bitmap, '--verbose'];
    const first = await runBasyn(args);
    assert.equal(first.code, 0, describeRun(first));
    await scribble(p.source, CHANGES, 5, 8);
    const r = await runBasyn(args);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, new RegExp(`: ${CHANGES.length} of ${Math.ceil(SIZE / (2 * 1024 * 1024))} blocks differ`));
    assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
  });
}

test('a local SYNC compared on threads moves exactly the changed blocks', async () => {
  const p = await imagePair(dir.path, 'local', SIZE, 9, 'none');
  await scribble(p.source, CHANGES, 5, 10);
  const r = await runBasyn(['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'SYNC', '--verbose']);
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stdout, new RegExp(`: ${CHANGES.length} of ${Math.ceil(SIZE / (2 * 1024 * 1024))} blocks differ`));
  assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
});
