/**
 * The memory a block travels in is handed from device to device and back (the engine's
 * read targets, device/pieces.ts): a remote device's READ answer lands in the caller's
 * memory whatever its encoding, and every destination calls a write's `written` once,
 * only when it reads the block no more. A caller that overwrites its memory the moment
 * `written` comes must still find every byte it wrote on the destination.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DeltaDestination } from '../delta/delta-destination.js';
import { hashByName, loadDigest } from '../hash/hash-algorithms.js';
import type { CompressRequest } from '../protocol/codec-policy.js';
import { compressibleImage } from '../test-support/fault-fixtures.js';
import { connectThroughAgent } from '../test-support/in-memory-agent.js';
import { seededBytes } from '../test-support/images.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import type { Device } from './device.js';
import { LocalDevice } from './local-device.js';
import { PIECE_BYTES } from './pieces.js';

const MiB = 1024 * 1024;
const hash = hashByName('SHA1')!;
const CODECS: CompressRequest[] = [{ compress: 'none', level: 0 }, { compress: 'zlib', level: 6 }, { compress: 'zstd', level: 3 }];

/** Blocks of every kind a write meets: compressible, random, zeros, small, longer than a piece. */
function blocks(): { offset: number; data: Buffer }[] {
  const out: { offset: number; data: Buffer }[] = [];
  let offset = 0;
  for (const data of [
    compressibleImage(MiB, 1),
    seededBytes(MiB, 2),
    Buffer.alloc(MiB),
    compressibleImage(4096, 3),
    seededBytes(100_000, 4),
    compressibleImage(PIECE_BYTES + 2 * MiB + 5, 5),
  ]) {
    out.push({ offset, data });
    offset += data.length;
  }
  return out;
}
const SIZE = blocks().reduce((n, b) => n + b.data.length, 0);

async function writeAll(device: Device): Promise<{ calls: number[] }> {
  const calls: number[] = [];
  for (const [i, b] of blocks().entries()) {
    const memory = Buffer.from(b.data);
    calls[i] = 0;
    await device.write(b.offset, memory, {
      written: () => {
        calls[i]!++;
        memory.fill(0x5a); // reused at once, as the engine's read targets are
      },
    });
  }
  await device.flush();
  return { calls };
}

function expected(): Buffer {
  return Buffer.concat(blocks().map((b) => b.data));
}

describe('a remote device (through the agent)', () => {
  for (const compress of CODECS) {
    test(`calls written once per write, after it holds what it needs (${compress.compress})`, async () => {
      const dir = await makeTempDir();
      try {
        const path = join(dir.path, 'dst.img');
        await writeFile(path, Buffer.alloc(SIZE, 0xee));
        const { device } = await connectThroughAgent({ path, writable: true, hash, compress, blockSize: 8 * MiB });
        const { calls } = await writeAll(device);
        await device.close();
        assert.deepEqual(calls, blocks().map(() => 1));
        assert.ok((await readFile(path)).equals(expected()), 'the destination holds what was written');
      } finally {
        await dir.remove();
      }
    });

    test(`puts a READ's answer into the caller's memory (${compress.compress})`, async () => {
      const dir = await makeTempDir();
      try {
        const path = join(dir.path, 'src.img');
        await writeFile(path, expected());
        const { device } = await connectThroughAgent({ path, writable: false, hash, compress, blockSize: 8 * MiB });
        for (const [i, b] of blocks().entries()) {
          const into = Buffer.alloc(b.data.length + 10, 0x11);
          const data = await device.read(b.offset, b.data.length, into);
          assert.ok(data.equals(b.data), `block at ${b.offset}`);
          // Zeros are the shared zero buffer. A zstd or zlib answer lands where it was
          // asked to (the first block compresses), and so does a raw one (every block
          // but zeros, with no compression).
          const zero = b.data.every((x) => x === 0);
          if ((compress.compress !== 'none' && i === 0) || (compress.compress === 'none' && !zero)) {
            assert.equal(data.buffer, into.buffer, `block at ${b.offset} is in the caller's memory`);
          }
        }
        // Without memory of the caller's, the answer is the block's own.
        const alone = await device.read(0, MiB);
        assert.ok(alone.equals(blocks()[0]!.data));
        await device.close();
      } finally {
        await dir.remove();
      }
    });
  }
});

test('a local device and a delta destination call written once per write', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'dst.img');
    await writeFile(path, Buffer.alloc(SIZE, 0xee));
    const digest = await loadDigest(hash);
    const local = await LocalDevice.open(path, { writable: true, hash, digest });
    const { calls } = await writeAll(local);
    await local.close();
    assert.deepEqual(calls, blocks().map(() => 1));
    assert.ok((await readFile(path)).equals(expected()));

    const entries: Buffer[] = [];
    const inner = await LocalDevice.open(path, { writable: false, hash, digest });
    const writer = { add: async (_offset: number, data: Buffer) => void entries.push(data) };
    const delta = new DeltaDestination(inner, writer as never, digest);
    const { calls: deltaCalls } = await writeAll(delta);
    await inner.close();
    assert.deepEqual(deltaCalls, blocks().map(() => 1));
    assert.ok(Buffer.concat(entries).equals(expected()), 'the delta holds what was written, not what the caller reused');
  } finally {
    await dir.remove();
  }
});
