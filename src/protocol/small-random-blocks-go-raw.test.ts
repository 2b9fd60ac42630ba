/**
 * Small blocks (below 32 KiB, where no deflate probe pays) are judged by the mix of
 * their bytes: random ones go raw with every codec and never start a zstd engine;
 * compressible ones, and ones that are only partly random, are still compressed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededBytes } from '../test-support/images.js';
import { decodeBlock, encodeBlock, type CodecSetting } from './block-codec.js';
import { Encoding } from './protocol.js';
import { zstdKind, zstdStarted } from './zstd.js';

const KiB = 1024;

/** Text-like: letters in runs, with seeded noise. */
function textLike(length: number, seed: number): Buffer {
  const noise = seededBytes(length, seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = noise[i]! % 5 === 0 ? 32 + (noise[i]! % 90) : 97 + ((i >> 4) % 26);
  return out;
}

const SETTINGS: CodecSetting[] = [
  { codec: 'zlib', level: 1 },
  { codec: 'zlib', level: 9 },
  ...(zstdKind === 'none' ? [] : [{ codec: 'zstd', level: 1 } as const, { codec: 'zstd', level: 19 } as const]),
];

const SIZES = [1 * KiB, 1 * KiB + 7, 4 * KiB, 5 * KiB + 3, 16 * KiB, 32 * KiB - 1];

test('random small blocks go raw with every codec and level, and no zstd engine is started for them', async () => {
  for (const setting of SETTINGS) {
    for (const [i, size] of SIZES.entries()) {
      const data = seededBytes(size, 100 + i);
      const block = await encodeBlock(data, setting);
      assert.equal(block.encoding, Encoding.Raw, `${size} random bytes, ${setting.codec}-${setting.level}`);
      assert.ok((await decodeBlock(block.encoding, block.payload, size)).equals(data));
    }
  }
  assert.equal(zstdStarted(), false, 'a zstd engine was set up for blocks that were all sent raw');
});

test('compressible small blocks, and blocks only partly random, are still compressed, and round-trip', async () => {
  for (const setting of SETTINGS) {
    for (const [i, size] of SIZES.entries()) {
      const text = textLike(size, 200 + i);
      // A random head and a text-like rest: judged by pieces spread over the block, not its start.
      const partly = Buffer.concat([seededBytes(Math.floor(size / 4), 300 + i), textLike(size - Math.floor(size / 4), 400 + i)]);
      for (const [what, data] of [['text-like', text], ['a quarter random', partly]] as const) {
        const block = await encodeBlock(data, setting);
        const expected = setting.codec === 'zstd' ? Encoding.Zstd : Encoding.Zlib;
        assert.equal(block.encoding, expected, `${size} bytes ${what}, ${setting.codec}-${setting.level}`);
        assert.ok(block.payload.length < size, `${size} bytes ${what} did not shrink`);
        assert.ok((await decodeBlock(block.encoding, block.payload, size)).equals(data));
        block.release?.();
      }
    }
  }
});
