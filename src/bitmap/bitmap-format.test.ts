/**
 * The bitmap header and its validation, as units: the header basyn encodes is the
 * original tool's byte for byte, and each validation failure names the field, the
 * expected and the found value, and the way out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HASH_ALGORITHMS, hashByName } from '../hash/hash-algorithms.js';
import { ORIGINAL_HASHES, encodeOriginalBitmap } from '../test-support/bitmap-files.js';
import { BITMAP_HEADER_SIZE, BITMAP_MAGIC, encodeHeader, entryCount, expectedFileSize, isUnknown, validateBitmap } from './bitmap-format.js';

const SHA1 = hashByName('SHA1')!;

describe('bitmap header', () => {
  it('is the original layout: LE u64 magic, u64 device size, u64 block size, u8 hash id', () => {
    const header = encodeHeader({ deviceSize: 3_000_001, blockSize: 262_144, hashId: 7 });
    assert.equal(BITMAP_HEADER_SIZE, 25);
    assert.equal(BITMAP_MAGIC, 239840023593485091n);
    assert.deepEqual(header, encodeOriginalBitmap(3_000_001, 262_144, 7, []));
    assert.equal(header.toString('hex').slice(0, 16), '230336113b155403');
  });

  it('carries sizes above 4 GiB exactly', () => {
    const deviceSize = 2 ** 42 + 12_345;
    const header = encodeHeader({ deviceSize, blockSize: 2 ** 31, hashId: 0 });
    assert.equal(header.readBigUInt64LE(8), BigInt(deviceSize));
    assert.equal(header.readBigUInt64LE(16), 2n ** 31n);
  });

  it('uses the original hash ids (sha1=0 ... md5=7) with the right digest lengths', () => {
    for (const h of ORIGINAL_HASHES) {
      const mine = HASH_ALGORITHMS.find((a) => a.name === h.name);
      assert.ok(mine, h.name);
      assert.equal(mine.id, h.id, h.name);
      assert.equal(mine.digestLength, h.length, h.name);
      assert.equal(mine.nodeName, h.node, h.name);
    }
  });

  it('counts one entry per block, the last one short', () => {
    assert.equal(entryCount(1024, 256), 4);
    assert.equal(entryCount(1025, 256), 5);
    assert.equal(entryCount(1, 256), 1);
    assert.equal(expectedFileSize(1025, 256, 20), 25 + 5 * 20);
  });

  it('treats an all-zero entry as unknown and anything else as known', () => {
    assert.equal(isUnknown(Buffer.alloc(20)), true);
    const e = Buffer.alloc(20);
    e[19] = 1;
    assert.equal(isUnknown(e), false);
  });
});

describe('bitmap validation', () => {
  const deviceSize = 1_000_000;
  const blockSize = 65_536;
  const entries = entryCount(deviceSize, blockSize);
  const good = (): Buffer => encodeOriginalBitmap(deviceSize, blockSize, 0, Array.from({ length: entries }, () => Buffer.alloc(20, 7)));
  const expect = { deviceSize, blockSize, hashId: 0, hash: SHA1 };
  const check = (file: Buffer, fileSize = file.length): void =>
    validateBitmap('x.bitmap', file.subarray(0, BITMAP_HEADER_SIZE), fileSize, expect);
  const fails = (file: Buffer, pattern: RegExp, fileSize?: number): void => {
    assert.throws(() => check(file, fileSize), (error: Error) => {
      assert.equal(error.name, 'BitmapError');
      assert.match(error.message, pattern);
      assert.match(error.message, /--reset-bitmap/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  };

  it('accepts a correct file', () => {
    check(good());
  });

  it('rejects a file shorter than the header', () => {
    fails(good().subarray(0, 10), /file is 10 bytes, shorter than the 25-byte header/);
    assert.throws(() => check(Buffer.alloc(0)), (error: Error) => {
      assert.match(error.message, /not a basyn bitmap: it is only 0 bytes/);
      assert.doesNotMatch(error.message, /reset|delete/);
      return true;
    });
  });

  it('rejects a wrong magic number', () => {
    const f = good();
    f.writeBigUInt64LE(1234n, 0);
    assert.throws(() => check(f), (error: Error) => {
      assert.equal(error.name, 'BitmapError');
      assert.match(error.message, /not a basyn bitmap: its first 8 bytes read 1234, it does not start with the bitmap magic number 239840023593485091/);
      assert.doesNotMatch(error.message, /reset|delete/, 'nothing that would destroy a file basyn did not write');
      return true;
    });
  });

  it('rejects a different device size', () => {
    const f = good();
    f.writeBigUInt64LE(BigInt(deviceSize + 1), 8);
    fails(f, new RegExp(`device size is ${deviceSize + 1} bytes, expected ${deviceSize}`));
  });

  it('rejects a different block size', () => {
    const f = good();
    f.writeBigUInt64LE(131_072n, 16);
    fails(f, new RegExp(`block size is 131072 bytes, expected ${blockSize}`));
  });

  it('rejects a different hash, naming both', () => {
    const f = good();
    f.writeUInt8(7, 24);
    fails(f, /hash is MD5 \(id 7\), expected SHA1 \(id 0\)/);
    f.writeUInt8(200, 24);
    fails(f, /hash id is 200, which this basyn does not know \(it knows 0 \(SHA1\) to 9 \(BLAKE3\)\), expected SHA1 \(id 0\)/);
  });

  it('rejects a file whose length is not header + entries', () => {
    const wanted = 25 + entries * 20;
    fails(Buffer.concat([good(), Buffer.alloc(1)]), new RegExp(`file is ${wanted + 1} bytes, expected ${wanted}`));
    fails(good().subarray(0, wanted - 1), new RegExp(`file is ${wanted - 1} bytes, expected ${wanted}`));
    fails(good().subarray(0, 25), new RegExp(`file is 25 bytes, expected ${wanted}`));
  });
});
