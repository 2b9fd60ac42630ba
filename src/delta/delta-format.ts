/**
 * The delta file format: the blocks a SYNC would write, carried to the destination
 * another way (--write-delta, --apply-delta), and the old contents a run overwrote
 * (--undo). Every entry says what the destination must hold there before and after,
 * so an apply can refuse a wrong base or a wrong order instead of corrupting it.
 *
 * DELTA_FORMAT_VERSION 1. Full prose in docs/delta-format.md. All integers
 * little-endian; D is the digest length of the header's hash.
 *
 * Header, 40 bytes:
 *   offset  size  field
 *   0       8     magic "BASYNDLT" (42 41 53 59 4e 44 4c 54)
 *   8       2     format version (1)
 *   10      1     hash id (hash/hash-algorithms.ts: sha1=0 ... blake3=9)
 *   11      1     D, the digest length of that hash (checked against the id)
 *   12      4     unit size in bytes: the largest entry length (--buffer, or --chunk)
 *   16      8     device size in bytes (the synced size); an apply needs exactly it
 *   24      8     creation time, milliseconds since 1970-01-01 UTC
 *   32      1     kind: 0 delta (--write-delta), 1 undo (--undo)
 *   33      7     zero
 *
 * Entry, 24 + 2*D + P bytes, any number of them:
 *   0       1     tag 0x45 ("E")
 *   1       1     flags: bit 0 set = the before digest is known; other bits zero
 *   2       1     encoding: the wire's Encoding ids (protocol/protocol.ts): 0 raw,
 *                 1 zlib, 2 zero marker (no payload), 3 zstd; any id block-codec's
 *                 decodeBlock knows
 *   3       1     zero
 *   4       8     offset in the device
 *   12      4     length L of the data (1..unit size; offset + L <= device size)
 *   16      4     payload length P (0 for the zero marker, L for raw, < L packed)
 *   20      4     zero
 *   24      D     digest before: what the destination holds at [offset, offset+L)
 *                 before the entry applies (all zero bytes when unknown)
 *   24+D    D     digest after: the digest of the data the payload decodes to
 *   24+2D   P     payload
 *
 * Checkpoint, 56 bytes, only in an undo file (kind 1), between entries: the
 * trailer's layout with tag 0x43 ("C"). An undo file is made durable up to a
 * checkpoint before the destination writes it covers are issued; an undo file of a
 * run that was killed ends with its last checkpoint (and perhaps a part of the next
 * batch, whose writes were never issued, which an apply ignores).
 *
 * Trailer, 56 bytes, once, at the end:
 *   0       1     tag 0x54 ("T")
 *   1       7     zero
 *   8       8     entry count
 *   16      8     data bytes: the sum of the entries' L
 *   24      32    SHA-256 of every byte of the file before this field
 *
 * A file that is shorter, longer, or whose checksum or any field is wrong is refused
 * as a whole before the destination is touched.
 */
import { createHash, type Hash } from 'node:crypto';
import { SyncError } from '../errors.js';
import { hashById } from '../hash/hash-algorithms.js';
import { quoteName } from '../report/quote.js';

export const DELTA_FORMAT_VERSION = 1;
export const DELTA_MAGIC = Buffer.from('BASYNDLT', 'latin1');
export const DELTA_HEADER_SIZE = 40;
export const ENTRY_FIXED_SIZE = 24;
export const TRAILER_SIZE = 56;
export const ENTRY_TAG = 0x45;
export const TRAILER_TAG = 0x54;
export const CHECKPOINT_TAG = 0x43;
const FLAG_BEFORE_KNOWN = 1;
/** The encodings an entry may carry (the wire's ids; 3 is zstd). */
export const DELTA_ENCODINGS: readonly number[] = [0, 1, 2, 3];

export type DeltaKind = 'delta' | 'undo';

export interface DeltaHeader {
  hashId: number;
  digestLength: number;
  unitSize: number;
  deviceSize: number;
  /** Milliseconds since the epoch. */
  created: number;
  kind: DeltaKind;
}

export interface DeltaEntryHead {
  offset: number;
  length: number;
  encoding: number;
  payloadLength: number;
  /** Undefined: unknown (applies over anything). */
  before: Buffer | undefined;
  after: Buffer;
}

export interface DeltaTrailer {
  entries: number;
  dataBytes: number;
  checksum: Buffer;
}

export function encodeDeltaHeader(h: DeltaHeader): Buffer {
  const b = Buffer.alloc(DELTA_HEADER_SIZE);
  DELTA_MAGIC.copy(b, 0);
  b.writeUInt16LE(DELTA_FORMAT_VERSION, 8);
  b.writeUInt8(h.hashId, 10);
  b.writeUInt8(h.digestLength, 11);
  b.writeUInt32LE(h.unitSize, 12);
  b.writeBigUInt64LE(BigInt(h.deviceSize), 16);
  b.writeBigUInt64LE(BigInt(h.created), 24);
  b.writeUInt8(h.kind === 'undo' ? 1 : 0, 32);
  return b;
}

export function encodeEntryHead(e: DeltaEntryHead, digestLength: number): Buffer {
  const b = Buffer.alloc(ENTRY_FIXED_SIZE + 2 * digestLength);
  b.writeUInt8(ENTRY_TAG, 0);
  b.writeUInt8(e.before !== undefined ? FLAG_BEFORE_KNOWN : 0, 1);
  b.writeUInt8(e.encoding, 2);
  b.writeBigUInt64LE(BigInt(e.offset), 4);
  b.writeUInt32LE(e.length, 12);
  b.writeUInt32LE(e.payloadLength, 16);
  e.before?.copy(b, ENTRY_FIXED_SIZE);
  e.after.copy(b, ENTRY_FIXED_SIZE + digestLength);
  return b;
}

/** The trailer (or a checkpoint) without its checksum; the checksum covers these 24 bytes too. */
export function encodeTrailerHead(entries: number, dataBytes: number, tag = TRAILER_TAG): Buffer {
  const b = Buffer.alloc(TRAILER_SIZE - 32);
  b.writeUInt8(tag, 0);
  b.writeBigUInt64LE(BigInt(entries), 8);
  b.writeBigUInt64LE(BigInt(dataBytes), 16);
  return b;
}

export function newChecksum(): Hash {
  return createHash('sha256');
}

/** Refusals of a delta file: exit 2, naming the file and what is wrong in it. */
export function deltaError(path: string, what: string, offset?: number): SyncError {
  return new SyncError(`delta ${quoteName(path)} ${what}; nothing was written`, { operation: 'delta check', offset });
}

const safe = (v: bigint, path: string, field: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw deltaError(path, `has a ${field} of ${v}, out of range`);
  return Number(v);
};

export function decodeDeltaHeader(path: string, b: Buffer, fileSize: number): DeltaHeader {
  if (b.length < DELTA_HEADER_SIZE || !b.subarray(0, 8).equals(DELTA_MAGIC)) {
    throw deltaError(path, b.length < 8 ? `is only ${fileSize} bytes, not a basyn delta` : 'is not a basyn delta (it does not start with "BASYNDLT")');
  }
  const version = b.readUInt16LE(8);
  if (version !== DELTA_FORMAT_VERSION) throw deltaError(path, `is of format version ${version}; this basyn reads version ${DELTA_FORMAT_VERSION}`);
  const hashId = b.readUInt8(10);
  const hash = hashById(hashId);
  if (hash === undefined) throw deltaError(path, `names hash id ${hashId}, which this basyn does not know`);
  const digestLength = b.readUInt8(11);
  if (digestLength !== hash.digestLength) throw deltaError(path, `has digest length ${digestLength} for ${hash.name}, which has ${hash.digestLength}`);
  const unitSize = b.readUInt32LE(12);
  if (unitSize < 1 || unitSize > 1024 * 1024 * 1024) throw deltaError(path, `has a unit size of ${unitSize} bytes, out of range`);
  const deviceSize = safe(b.readBigUInt64LE(16), path, 'device size');
  if (deviceSize < 1) throw deltaError(path, 'has a device size of 0');
  const created = safe(b.readBigUInt64LE(24), path, 'creation time');
  const kindByte = b.readUInt8(32);
  if (kindByte > 1 || !b.subarray(33, 40).equals(Buffer.alloc(7))) throw deltaError(path, 'has a damaged header (reserved bytes are not zero)');
  return { hashId, digestLength, unitSize, deviceSize, created, kind: kindByte === 1 ? 'undo' : 'delta' };
}

/** Decodes and checks an entry's fixed part; `at` is its position in the file, for messages. */
export function decodeEntryHead(path: string, b: Buffer, h: DeltaHeader, at: number): DeltaEntryHead {
  const bad = (what: string): never => {
    throw deltaError(path, `is damaged: the entry at file offset ${at} ${what}`);
  };
  if (b.readUInt8(0) !== ENTRY_TAG) bad('does not start with its tag');
  const flags = b.readUInt8(1);
  if ((flags & ~FLAG_BEFORE_KNOWN) !== 0 || b.readUInt8(3) !== 0 || b.readUInt32LE(20) !== 0) bad('has reserved bits set');
  const encoding = b.readUInt8(2);
  if (!DELTA_ENCODINGS.includes(encoding)) bad(`has encoding ${encoding}, which this basyn does not know`);
  const offset = safe(b.readBigUInt64LE(4), path, 'offset');
  const length = b.readUInt32LE(12);
  const payloadLength = b.readUInt32LE(16);
  if (length < 1 || length > h.unitSize) bad(`has length ${length}, not 1 to the unit size ${h.unitSize}`);
  if (offset + length > h.deviceSize) bad(`covers ${offset}+${length}, past the device size ${h.deviceSize}`);
  if (encoding === 0 && payloadLength !== length) bad(`is raw with ${payloadLength} payload bytes for ${length}`);
  if (encoding === 2 && payloadLength !== 0) bad('is a zero marker with a payload');
  if (payloadLength > length) bad(`has a payload of ${payloadLength} bytes, more than its ${length} bytes of data`);
  const D = h.digestLength;
  const before = (flags & FLAG_BEFORE_KNOWN) !== 0 ? Buffer.from(b.subarray(ENTRY_FIXED_SIZE, ENTRY_FIXED_SIZE + D)) : undefined;
  const after = Buffer.from(b.subarray(ENTRY_FIXED_SIZE + D, ENTRY_FIXED_SIZE + 2 * D));
  return { offset, length, encoding, payloadLength, before, after };
}

export function decodeTrailer(path: string, b: Buffer, tag = TRAILER_TAG): DeltaTrailer {
  if (b.readUInt8(0) !== tag || !b.subarray(1, 8).equals(Buffer.alloc(7))) throw deltaError(path, 'is damaged: its trailer is not where the entries end');
  return {
    entries: safe(b.readBigUInt64LE(8), path, 'entry count'),
    dataBytes: safe(b.readBigUInt64LE(16), path, 'data size'),
    checksum: Buffer.from(b.subarray(24, 56)),
  };
}
