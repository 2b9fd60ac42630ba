/**
 * A block lent to the codec (block-codec.ts's LentBlock: a source's reused read buffer)
 * is overwritten by its owner the moment the codec says it is free. For every way a
 * block can travel (zero marker, raw, zlib on this thread and on the thread pool, zstd
 * here and on the zstd threads, compressible or not), the payload must still decode to
 * the block as it was: the codec read it no more and kept no view of it. The zstd
 * threads free a large block before it is compressed (a thread holds its own copy).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededBytes } from '../test-support/images.js';
import { SlabPool } from '../util/slab-pool.js';
import { decodeBlock, encodeBlock, type CodecSetting, type LentBlock } from './block-codec.js';
import { Encoding } from './protocol.js';

function compressible(length: number, seed: number): Buffer {
  const noise = seededBytes(length, seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = noise[i]! % 5 === 0 ? noise[i]! : 65 + ((i >> 6) % 20);
  return out;
}

const KiB = 1024;
const settings: CodecSetting[] = [
  { codec: 'none', level: 0 },
  { codec: 'zlib', level: 1 },
  { codec: 'zlib', level: 9 },
  { codec: 'zstd', level: 1 },
  { codec: 'zstd', level: 19 },
];
const blocks: [string, (n: number) => Buffer][] = [
  ['zeros', (n) => Buffer.alloc(n)],
  ['random', (n) => seededBytes(n, n)],
  ['compressible', (n) => compressible(n, n)],
  ['one byte', () => Buffer.from([7])],
];

for (const setting of settings) {
  for (const [kind, make] of blocks) {
    for (const size of [4 * KiB, 64 * KiB, 64 * KiB + 1, 1024 * KiB]) {
      test(`${setting.codec}-${setting.level}, ${kind}, ${size} bytes: the payload survives its block being overwritten once free`, async () => {
        const block = make(size);
        const original = Buffer.from(block);
        const copies = new SlabPool(4 * 1024 * KiB);
        let frees = 0;
        let settled = false;
        const lent: LentBlock = {
          free: () => {
            frees++;
            assert.equal(settled, false, 'free comes before the payload');
            block.fill(0x5a); // the owner reuses its buffer at once
          },
          copy: (data) => copies.copy(data),
        };
        const encoded = await encodeBlock(block, setting, lent);
        settled = true;
        assert.ok(frees >= 1, 'the block was freed');
        assert.notEqual(encoded.payload.buffer, block.buffer, 'no view of the lent block');
        const decoded = await decodeBlock(encoded.encoding, encoded.payload, original.length);
        assert.ok(decoded.equals(original), `decoded payload (encoding ${encoded.encoding}) equals the block as lent`);
        encoded.release?.();
      });
    }
  }
}

test('the zstd threads free a large lent block when a thread takes it, before its frame is back', async () => {
  const block = compressible(1024 * KiB, 3);
  const original = Buffer.from(block);
  let freedBefore = false;
  let done = false;
  const lent: LentBlock = {
    free: () => {
      freedBefore = !done;
      block.fill(0);
    },
    copy: () => assert.fail('a compressible block on the zstd threads needs no copy of ours'),
  };
  const encoding = encodeBlock(block, { codec: 'zstd', level: 19 }, lent);
  const encoded = await encoding;
  done = true;
  assert.ok(freedBefore);
  assert.equal(encoded.encoding, Encoding.Zstd);
  assert.ok((await decodeBlock(encoded.encoding, encoded.payload, original.length)).equals(original));
  encoded.release?.();
});
