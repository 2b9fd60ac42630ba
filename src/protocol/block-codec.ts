/**
 * How a block travels: raw, zlib- or zstd-compressed, or as a zero marker.
 * Compression runs on libuv's thread pool (zlib's async API, node's built-in zstd),
 * so several blocks compress at once on every core while the main thread keeps
 * hashing; the WASM zstd on threads of its own (zstd-pool.ts). At most one block per
 * core is in a codec at once (codec-threads.ts).
 */
import { promisify } from 'node:util';
import { deflate, inflate, deflateSync, inflateSync } from 'node:zlib';
import { ProtocolError } from '../errors.js';
import { Encoding } from './protocol.js';
import { zstdCompressLent, zstdDecompress } from './zstd.js';
import { deflatedLength, inflateInto } from './zlib-into.js';
import { threadedCodecGate } from './codec-threads.js';
import type { PooledCopy } from '../util/slab-pool.js';
import { noteLateGarbage } from '../util/late-garbage.js';

const deflateThreaded = promisify(deflate);
const inflateThreaded = promisify(inflate);
// One block per core at once (codec-threads.ts): what waits holds no zlib stream yet.
const deflateAsync = (data: Buffer, options: object): Promise<Buffer> => threadedCodecGate.run(() => deflateThreaded(data, options));
const inflateAsync = (data: Buffer, options: object): Promise<Buffer> => threadedCodecGate.run(() => inflateThreaded(data, options));

export interface EncodedBlock {
  encoding: Encoding;
  payload: Buffer;
  /**
   * Lends the payload's memory to a later block once nothing reads it (the WASM zstd
   * pool's buffers); a caller that never calls it leaves the payload to the GC.
   */
  release?: () => void;
}

let zeros = Buffer.alloc(0);

/** `length` zero bytes from the shared buffer: read-only by convention. */
function zeroBytes(length: number): Buffer {
  if (zeros.length < length) zeros = Buffer.alloc(Math.max(length, 64 * 1024));
  return zeros.subarray(0, length);
}

/** True when every byte of `data` is zero (memcmp against a shared zero buffer). */
export function isAllZero(data: Uint8Array): boolean {
  return Buffer.compare(data, zeroBytes(data.length)) === 0;
}

const SAMPLE = 8 * 1024;

/** Bytes the histogram of a small block looks at: all of it, or four spread pieces. */
const HISTOGRAM_PIECE = 1024;
const HISTOGRAM_PIECES = 4;

/**
 * Bits per byte above which a small block is taken for incompressible. Random bytes
 * measure 7.82 over 1 KiB and 7.95 over 4 KiB (the estimate falls short of 8 on few
 * bytes); text measures 4-5, machine code about 6, and a block of 7.7 would shrink by
 * 3% at most without repeats.
 */
const RANDOM_BITS_PER_BYTE = 7.7;

/**
 * The order-0 entropy of a few KiB of a small block, against RANDOM_BITS_PER_BYTE: a
 * count of bytes, microseconds a block. Deflate probes (below) cost more than the
 * whole block is worth at this size, and without any probe every random block went to
 * zstd only to be sent raw, which also kept the WASM build and its heap (16 MiB and
 * more) in memory for nothing.
 */
function looksRandom(data: Uint8Array): boolean {
  if (data.length < HISTOGRAM_PIECE) return false;
  const counts = new Uint32Array(256);
  const whole = data.length <= HISTOGRAM_PIECE * HISTOGRAM_PIECES;
  const pieces = whole ? 1 : HISTOGRAM_PIECES;
  const pieceLength = whole ? data.length : HISTOGRAM_PIECE;
  for (let p = 0; p < pieces; p++) {
    const start = whole ? 0 : Math.floor(((data.length - HISTOGRAM_PIECE) * p) / (HISTOGRAM_PIECES - 1));
    for (let i = start, end = start + pieceLength; i < end; i++) counts[data[i]!]!++;
  }
  const n = pieces * pieceLength;
  let bits = 0;
  for (const c of counts) if (c !== 0) bits -= c * Math.log2(c / n);
  return bits / n > RANDOM_BITS_PER_BYTE;
}

/**
 * Guesses, for a few KiB of cost, whether compressing would gain anything. Large
 * blocks: three samples deflated at level 1 (repeats count there, not only the byte
 * mix); small blocks: the mix of their bytes (looksRandom). Random or
 * already-compressed data then goes raw instead of costing effort for nothing.
 */
export function looksIncompressible(data: Uint8Array): boolean {
  if (data.length < 4 * SAMPLE) return looksRandom(data);
  const starts = [0, Math.floor(data.length / 2) - SAMPLE / 2, data.length - SAMPLE];
  for (const s of starts) {
    const sample = data.subarray(s, s + SAMPLE);
    const length = deflatedLength(sample) ?? deflateSync(sample, { level: 1 }).length;
    if (length < SAMPLE * 0.97) return false;
  }
  return true;
}

/**
 * Blocks up to this size are (de)compressed on the calling thread: a trip through
 * the thread pool and a full 32 KiB-window zlib stream cost more than the work.
 */
const SMALL_BLOCK = 64 * 1024;

/** The smallest zlib window covering `length` bytes (9..15): less memory to set up per block. */
function windowBitsFor(length: number): number {
  return Math.min(15, Math.max(9, Math.ceil(Math.log2(Math.max(length, 1)))));
}

/** The codecs a sender can compress with ("none": blocks go raw). */
export type CodecName = 'none' | 'zlib' | 'zstd';

/** How one block is to be compressed: the codec and its level (zlib 0-9, zstd 1-19). */
export interface CodecSetting {
  readonly codec: CodecName;
  readonly level: number;
}

export const NO_COMPRESSION: CodecSetting = { codec: 'none', level: 0 };

/**
 * A block its caller lends only for a while (a source's reused read buffer): the
 * codec calls `free` as soon as it reads the block no more (perhaps more than once),
 * and no payload it returns is a view of it. When encoding fails, `free` may not have
 * been called: the caller frees the block itself then. Where the block must outlive that (a raw payload, a block zlib
 * compresses on the thread pool) the codec keeps a `copy` of it instead. The zstd
 * threads take their own copy when a thread picks the block up (zstd-pool.ts), so a
 * compressible block is copied once, not twice.
 */
export interface LentBlock {
  free(): void;
  copy(data: Uint8Array): PooledCopy;
}

/** A LentBlock whose copies come from `copy`, and a promise that settles once it is free. */
export function lendBlock(copy: LentBlock['copy']): { lent: LentBlock; freed: Promise<void> } {
  let free!: () => void;
  const freed = new Promise<void>((resolve) => (free = resolve));
  return { lent: { free, copy }, freed };
}

/** The block itself as a raw payload: a copy of it where it is only lent. */
function rawPayload(data: Buffer, lent: LentBlock | undefined): EncodedBlock {
  if (lent === undefined) return { encoding: Encoding.Raw, payload: data };
  const copy = lent.copy(data);
  lent.free();
  return { encoding: Encoding.Raw, payload: copy.buffer, release: copy.release };
}

/** `lent`: see LentBlock; without it the payload may be `data` itself (sent raw). */
export async function encodeBlock(data: Buffer, setting: CodecSetting, lent?: LentBlock): Promise<EncodedBlock> {
  if (isAllZero(data)) {
    lent?.free();
    return { encoding: Encoding.Zero, payload: Buffer.alloc(0) };
  }
  if (setting.codec === 'none' || (setting.codec === 'zlib' && setting.level === 0) || looksIncompressible(data)) {
    return rawPayload(data, lent);
  }
  if (setting.codec === 'zstd') {
    const { frame, release, raw } = await zstdCompressLent(data, setting.level, lent?.free);
    if (raw === true) {
      // It did not shrink. A frame that is not the block is the pool's copy of it.
      if (frame === data) return rawPayload(data, lent);
      if (lent === undefined) {
        release();
        return { encoding: Encoding.Raw, payload: data };
      }
      return { encoding: Encoding.Raw, payload: frame, release };
    }
    lent?.free();
    return { encoding: Encoding.Zstd, payload: frame, release };
  }
  const level = setting.level;
  if (data.length <= SMALL_BLOCK) {
    const packed = deflateSync(data, { level, windowBits: windowBitsFor(data.length) });
    if (packed.length >= data.length) return rawPayload(data, lent);
    lent?.free();
    return { encoding: Encoding.Zlib, payload: packed };
  }
  // The thread pool reads the block while this thread goes on: a lent one goes as a copy.
  const own = lent?.copy(data);
  lent?.free();
  const input = own?.buffer ?? data;
  let packed: Buffer;
  try {
    packed = await deflateAsync(input, { level });
  } catch (error) {
    own?.release();
    throw error;
  }
  // Its chunks, and the payload itself once sent (late-garbage.ts).
  noteLateGarbage(2 * packed.length);
  if (packed.length >= input.length) return own === undefined ? { encoding: Encoding.Raw, payload: data } : { encoding: Encoding.Raw, payload: own.buffer, release: own.release };
  own?.release();
  return { encoding: Encoding.Zlib, payload: packed };
}

/** Blocks travel in pieces of at most this (device/pieces.ts's PIECE_BYTES). */
const ONE_PIECE = 4 * 1024 * 1024;

/** What a zlib failure means for a block announced as `rawLength` bytes. */
function inflateError(error: unknown, rawLength: number): ProtocolError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ERR_BUFFER_TOO_LARGE') return new ProtocolError(`compressed block inflates past its announced ${rawLength} bytes`);
  return new ProtocolError(`compressed block is corrupt (${code ?? String(error)})`);
}

/** Restores a block, refusing anything that is not exactly `rawLength` bytes. */
/**
 * `into`: memory of rawLength bytes a decoder may decode into (see zstdDecompress); zlib
 * then inflates on this thread (zlib-into.ts), not on the thread pool.
 */
export async function decodeBlock(encoding: Encoding, payload: Buffer, rawLength: number, into?: Buffer): Promise<Buffer> {
  switch (encoding) {
    case Encoding.Raw:
      if (payload.length !== rawLength) {
        throw new ProtocolError(`raw block of ${payload.length} bytes where ${rawLength} were announced`);
      }
      return payload;
    case Encoding.Zero:
      if (payload.length !== 0) throw new ProtocolError('zero block carries a payload');
      // One shared buffer of zeros, not an allocation per marker: a run of zero blocks
      // held in a window costs objects, not memory. Nothing writes into decoded blocks.
      return zeroBytes(rawLength);
    case Encoding.Zlib: {
      if (into !== undefined && into.length >= rawLength) {
        // Into the caller's memory, on this thread (zlib-into.ts), where node allows it.
        let n: number | undefined;
        try {
          n = inflateInto(payload, into.subarray(0, rawLength));
        } catch (error) {
          throw inflateError(error, rawLength);
        }
        if (n !== undefined) {
          if (n !== rawLength) throw new ProtocolError(`compressed block inflates to ${n} bytes, ${rawLength} were announced`);
          return into.subarray(0, rawLength);
        }
      }
      let out: Buffer;
      try {
        // Output in one piece a byte longer than the block: by default zlib gathers 16
        // KiB chunks and joins them, 128 pieces of garbage for every 2 MiB block; and a
        // piece the block fills exactly makes node take another for what may follow.
        // At most a piece (device/pieces.ts): memory is not taken on the announced length alone.
        const limit = { maxOutputLength: Math.max(rawLength, 1), chunkSize: Math.max(Math.min(rawLength, ONE_PIECE) + 1, 64) };
        out = rawLength <= SMALL_BLOCK ? inflateSync(payload, limit) : await inflateAsync(payload, limit);
      } catch (error) {
        throw inflateError(error, rawLength);
      }
      // The block, once written (late-garbage.ts).
      if (rawLength > SMALL_BLOCK) noteLateGarbage(rawLength);
      if (out.length !== rawLength) {
        throw new ProtocolError(`compressed block inflates to ${out.length} bytes, ${rawLength} were announced`);
      }
      return out;
    }
    case Encoding.Zstd:
      return zstdDecompress(payload, rawLength, into);
  }
}
