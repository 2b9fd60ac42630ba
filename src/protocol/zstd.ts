/**
 * zstd for blocks on the wire: node's built-in zstd where the running node has it
 * (node:zlib's zstdCompress, from 22.15 / 23.8), the WASM build otherwise. Both write
 * and read the same frames, so each end uses what it has.
 *
 * Decoding trusts nothing: a frame must announce its content size, and that size
 * must be the block's raw length, before any memory is set aside for it; the
 * decompressor is then bounded to that many bytes.
 *
 * Both compress on threads of their own (zstd-pool.ts). Both decompress into given
 * memory on the calling thread (the agent's slabs: 1.3-1.6 GB/s a core with node 24's,
 * faster than its zstdDecompressSync, which allocates), otherwise node's on libuv's
 * thread pool.
 *
 * BASYN_ZSTD=wasm forces the WASM build even where node has zstd (to test the two
 * against each other on one machine); BASYN_ZSTD=none makes this process have no
 * zstd at all (an agent that offers none, as an older build would).
 */
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { ProtocolError } from '../errors.js';
import type { ZstdEngine } from './zstd-wasm.js';
import { hasPiece } from '../pieces/agent-pieces.js';
import { threadedCodecGate } from './codec-threads.js';
import { NOTHING_TO_RELEASE, SlabPool } from '../util/slab-pool.js';

export const ZSTD_MIN_LEVEL = 1;
export const ZSTD_MAX_LEVEL = 19;

type BuiltinCompress = (data: Buffer, options: object, cb: (e: Error | null, out: Buffer) => void) => void;
type BuiltinDecompressSync = (data: Buffer, options: object) => Buffer;

interface BuiltinZstd {
  decompress(data: Buffer, options: object): Promise<Buffer>;
  decompressSync: BuiltinDecompressSync;
  levelParam: number;
}

/** The running node's zstd, found by its functions (never by the version string). */
function findBuiltin(): BuiltinZstd | undefined {
  const z = zlib as unknown as Record<string, unknown>;
  const constants = zlib.constants as unknown as Record<string, number>;
  if (typeof z.zstdCompress !== 'function' || typeof z.zstdDecompress !== 'function' || typeof z.zstdDecompressSync !== 'function') return undefined;
  const levelParam = constants.ZSTD_c_compressionLevel;
  if (typeof levelParam !== 'number') return undefined;
  const decompress = promisify(z.zstdDecompress as BuiltinCompress);
  return {
    // One block per core at once, as zlib (codec-threads.ts).
    decompress: (data, options) => threadedCodecGate.run(() => decompress(data, options)),
    decompressSync: z.zstdDecompressSync as BuiltinDecompressSync,
    levelParam,
  };
}

export type ZstdKind = 'builtin' | 'wasm' | 'none';

const forced = process.env.BASYN_ZSTD;
const builtin = forced === 'wasm' || forced === 'none' ? undefined : findBuiltin();

/** Which zstd this process uses: node's own, the WASM build, or none. */
// An agent has the WASM build only when the run sent it as a piece (run.ts: piecesForRun);
// without it, it offers no zstd in its HELLO and the sender keeps to zlib.
export const zstdKind: ZstdKind = forced === 'none' ? 'none' : builtin !== undefined ? 'builtin' : hasPiece('zstd') ? 'wasm' : 'none';

export function hasZstd(): boolean {
  return zstdKind !== 'none';
}

let wasm: Promise<ZstdEngine> | undefined;

/** Loads the WASM build the first time it is needed (never where node has zstd). */
function wasmEngine(): Promise<ZstdEngine> {
  wasm ??= import('./zstd-wasm.js').then((m) => m.loadWasmZstd());
  return wasm;
}

/** Blocks up to this size are decompressed on the calling thread (as in block-codec.ts). */
const SMALL_BLOCK = 64 * 1024;

/**
 * Blocks up to this size are compressed on the calling thread too. A trip to a zstd
 * thread costs two copies and a message, more than zstd-1 spends on a block this small,
 * and the thread itself costs 25-30 MiB (an isolate and its WASM heap): a SYNC of 64 MiB
 * of random data at `--buffer 1`-`16` through the agent peaked at 137-153 MiB with the
 * thread, and never starts one now (docs/design.md, "Small blocks are compressed on the
 * main thread").
 */
const SMALL_COMPRESS = 64 * 1024;

/**
 * Frames compressed here, copied into reused slabs as the pool's are (zstd-pool.ts):
 * a fresh buffer per frame was garbage the collector freed tens of MiB late (a COPY of
 * mixed data in 64 KiB blocks through the agent peaked at 143-147 MiB that way).
 */
const smallFrames = new SlabPool(4 * 1024 * 1024);
let scratch = Buffer.alloc(0);

/** Compresses on this thread; a frame no shorter than the block comes back as the block itself (sent raw). */
function compressHere(engine: ZstdEngine, data: Buffer, level: number): LentFrame {
  if (scratch.length < data.length) scratch = Buffer.allocUnsafeSlow(SMALL_COMPRESS);
  const length = engine.compressInto(data, level, scratch.subarray(0, data.length - 1));
  if (length === undefined) return { frame: data, release: NOTHING_TO_RELEASE, raw: true };
  const copy = smallFrames.copy(scratch.subarray(0, length));
  return { frame: copy.buffer, release: copy.release };
}

let onCallingThread: Promise<ZstdEngine> | undefined;

/** True once this process has set up any zstd engine or thread (for tests: random data must set up none). */
export function zstdStarted(): boolean {
  return wasm !== undefined || onCallingThread !== undefined || poolStarted;
}

let poolStarted = false;

/** The engine that compresses small blocks here: node's own, or the WASM build's. */
function callingThreadEngine(): Promise<ZstdEngine> {
  onCallingThread ??= builtin !== undefined
    ? import('./zstd-builtin-engine.js').then((m) => m.builtinZstdEngine() ?? Promise.reject(new Error('node\'s zstd is not as expected')))
    : wasmEngine();
  return onCallingThread;
}

/** A frame, or with `raw` the block itself (it did not shrink), in memory lent until `release`. */
export interface LentFrame {
  frame: Buffer;
  release(): void;
  raw?: boolean;
}

/**
 * A zstd frame of `data`, with a `release` that lends the frame's memory to the next
 * block once the caller is done with it. A block that does not shrink comes back with
 * `raw` (the caller sends it raw; block-codec.ts): a small one as itself, a large one
 * as the pool's copy of it. `taken`, if given, is called once the pool holds a copy of
 * a large block, which the caller may then reuse; a small one is read here only, before
 * this resolves.
 */
export async function zstdCompressLent(data: Buffer, level: number, taken?: () => void): Promise<LentFrame> {
  if (zstdKind === 'none') throw new Error('zstd is not available in this process');
  if (data.length <= SMALL_COMPRESS) return compressHere(await callingThreadEngine(), data, level);
  // Off the event loop on the pool's threads (zstd-pool.ts), with node's zstd too: there
  // a frame goes into reused memory, where zlib.zstdCompress leaves two buffers per block
  // to the collector (zstd-builtin-engine.ts).
  poolStarted = true;
  return (await import('./zstd-pool.js')).sharedZstdPool().compress(data, level, taken);
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The content size a zstd frame header announces, or undefined when it announces
 * none. Throws when the bytes are not a zstd frame header.
 */
export function frameContentSize(frame: Buffer): number | undefined {
  if (frame.length < 6 || frame.readUInt32LE(0) !== ZSTD_MAGIC) throw new ProtocolError('zstd block does not start with a zstd frame header');
  const descriptor = frame[4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  if ((descriptor >> 3) & 1) throw new ProtocolError('zstd frame header has its reserved bit set');
  const dictIdBytes = [0, 1, 2, 4][descriptor & 3]!;
  const fcsBytes = fcsFlag === 0 ? singleSegment : [1, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return undefined;
  const at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
  if (frame.length < at + fcsBytes) throw new ProtocolError('zstd frame header is truncated');
  switch (fcsBytes) {
    case 1: return frame[at]!;
    case 2: return frame.readUInt16LE(at) + 256;
    case 4: return frame.readUInt32LE(at);
    default: {
      const v = frame.readBigUInt64LE(at);
      return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
    }
  }
}

/** Restores a zstd block of exactly `rawLength` bytes, or throws ProtocolError. */
/**
 * `into`, if given, is memory of rawLength bytes to decompress into, on this thread:
 * the result is then a view of it.
 */
export async function zstdDecompress(payload: Buffer, rawLength: number, into?: Buffer): Promise<Buffer> {
  if (zstdKind === 'none') throw new ProtocolError('zstd block received, but this end offered no zstd');
  const announced = frameContentSize(payload);
  if (announced === undefined) throw new ProtocolError('zstd block does not announce its size');
  if (announced !== rawLength) throw new ProtocolError(`zstd block announces ${announced} bytes, ${rawLength} were announced for the block`);
  let out: Buffer;
  try {
    if (builtin !== undefined && into !== undefined && into.length === rawLength) {
      // Here, on the calling thread, into memory that is reused (zstd-builtin-engine.ts).
      out = into.subarray(0, (await callingThreadEngine()).decompressInto(payload, into));
    } else if (builtin !== undefined) {
      // One output buffer with room to spare (a full one makes zlib start another), not
      // 16 KiB chunks joined into a copy: both were garbage node 24 frees late (an agent
      // receiving a compressible COPY: 160 MiB with the chunks, 130 without).
      const limit = { maxOutputLength: Math.max(rawLength, 1), chunkSize: Math.max(rawLength + 1, 64) };
      out = rawLength <= SMALL_BLOCK ? builtin.decompressSync(payload, limit) : await builtin.decompress(payload, limit);
    } else {
      const engine = await wasmEngine();
      out = into !== undefined && into.length === rawLength ? into.subarray(0, engine.decompressInto(payload, into)) : engine.decompress(payload, rawLength);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new ProtocolError(`zstd block decompresses past its announced ${rawLength} bytes`);
    throw new ProtocolError(`zstd block is corrupt (${code ?? (error as Error).message ?? String(error)})`);
  }
  if (out.length !== rawLength) throw new ProtocolError(`zstd block decompresses to ${out.length} bytes, ${rawLength} were announced`);
  return out;
}
