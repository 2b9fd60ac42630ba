/**
 * The bitmap file format: a cache of the source's block digests, as the original
 * basyn defines it, so a bitmap written by either tool loads in the other.
 *
 * BITMAP_FORMAT_VERSION 1 (the original's layout; there is no version field, the
 * magic number identifies it). Full prose in docs/bitmap-format.md.
 *
 *   offset  size  field (little-endian)
 *   0       8     magic 239840023593485091 (0x0354_153b_1136_0323)
 *   8       8     device size in bytes (the synced size)
 *   16      8     block size in bytes (--buffer, or --chunk when given)
 *   24      1     hash id (hash/hash-algorithms.ts: sha1=0 ... md5=7)
 *   25      N*D   N = ceil(device size / block size) entries of D = digest length
 *                 bytes: entry i is the digest of bytes [i*B, min((i+1)*B, size))
 *
 * An entry of all zero bytes means "unknown": the destination may not hold that
 * block. basyn's invariant (DESIGN.md): an entry equals a source digest only if the
 * destination durably holds that block.
 */
import { BitmapError } from '../errors.js';
import { quoteName } from '../report/quote.js';
import { hashById, knownHashIds, type HashAlgorithm } from '../hash/hash-algorithms.js';

export const BITMAP_FORMAT_VERSION = 1;
export const BITMAP_MAGIC = 239840023593485091n;
export const BITMAP_HEADER_SIZE = 25;
/** The magic number's length: a file that starts with it is a bitmap, whatever follows. */
export const BITMAP_MAGIC_SIZE = 8;

export interface BitmapHeader {
  deviceSize: number;
  blockSize: number;
  hashId: number;
}

export function encodeHeader(h: BitmapHeader): Buffer {
  const b = Buffer.alloc(BITMAP_HEADER_SIZE);
  b.writeBigUInt64LE(BITMAP_MAGIC, 0);
  b.writeBigUInt64LE(BigInt(h.deviceSize), 8);
  b.writeBigUInt64LE(BigInt(h.blockSize), 16);
  b.writeUInt8(h.hashId, 24);
  return b;
}

export function entryCount(deviceSize: number, blockSize: number): number {
  return Math.ceil(deviceSize / blockSize);
}

export function expectedFileSize(deviceSize: number, blockSize: number, digestLength: number): number {
  return BITMAP_HEADER_SIZE + entryCount(deviceSize, blockSize) * digestLength;
}

/**
 * Throws unless the file starts with the bitmap magic number: such a file is not a
 * bitmap, and the message suggests nothing that would replace or delete it.
 */
export function checkMagic(path: string, head: Buffer, fileSize: number): void {
  if (head.length >= BITMAP_MAGIC_SIZE && head.readBigUInt64LE(0) === BITMAP_MAGIC) return;
  const found = head.length < BITMAP_MAGIC_SIZE ? `it is only ${fileSize} bytes` : `its first 8 bytes read ${head.readBigUInt64LE(0)}`;
  throw new BitmapError(
    `bitmap ${quoteName(path)} is not a basyn bitmap: ${found}, it does not start with the bitmap magic number ${BITMAP_MAGIC}; ` +
      `basyn leaves it as it is (-b must name a bitmap file, or a path where none exists yet)`,
    { device: path, operation: 'bitmap check' },
  );
}

/**
 * Checks a bitmap's header and length against this run. Throws a BitmapError naming
 * the field, the expected and the found value, and the way out. A file that does not
 * start with the magic number is not a bitmap: nothing is suggested that would
 * replace or delete it.
 */
export function validateBitmap(path: string, head: Buffer, fileSize: number, expect: BitmapHeader & { hash: HashAlgorithm }): void {
  const fix = `use --reset-bitmap or delete the file`;
  const fail = (what: string): never => {
    throw new BitmapError(`bitmap ${quoteName(path)}: ${what}; ${fix}`, { device: path, operation: 'bitmap check' });
  };
  checkMagic(path, head, fileSize);
  if (head.length < BITMAP_HEADER_SIZE || fileSize < BITMAP_HEADER_SIZE) {
    fail(`file is ${fileSize} bytes, shorter than the ${BITMAP_HEADER_SIZE}-byte header`);
  }
  const deviceSize = head.readBigUInt64LE(8);
  if (deviceSize !== BigInt(expect.deviceSize)) fail(`device size is ${deviceSize} bytes, expected ${expect.deviceSize}`);
  const blockSize = head.readBigUInt64LE(16);
  if (blockSize !== BigInt(expect.blockSize)) {
    fail(`block size is ${blockSize} bytes, expected ${expect.blockSize} (--buffer, or --chunk when given)`);
  }
  const hashId = head.readUInt8(24);
  if (hashId !== expect.hashId) {
    const found = hashById(hashId);
    fail(found !== undefined
      ? `hash is ${found.name} (id ${hashId}), expected ${expect.hash.name} (id ${expect.hashId})`
      : `hash id is ${hashId}, which this basyn does not know (it knows ${knownHashIds()}), expected ${expect.hash.name} (id ${expect.hashId})`);
  }
  const wanted = expectedFileSize(expect.deviceSize, expect.blockSize, expect.hash.digestLength);
  if (fileSize !== wanted) fail(`file is ${fileSize} bytes, expected ${wanted} (header + ${entryCount(expect.deviceSize, expect.blockSize)} digests): it is damaged`);
}

/** True when a digest entry is the "unknown" marker (all zero bytes). */
export function isUnknown(entry: Uint8Array): boolean {
  for (let i = 0; i < entry.length; i++) if (entry[i] !== 0) return false;
  return true;
}
