/**
 * node's own zstd (node:zlib, from 22.15 / 23.8) as a ZstdEngine for the zstd threads
 * (zstd-worker.ts), compressing into one output buffer the thread reuses, and for the
 * agent, decompressing into the memory it is given (zstd.ts): zstdDecompressSync's
 * fresh output per block was garbage node 24 frees late, 20-30 MiB of the agent's RSS.
 *
 * Why not zlib.zstdCompress: each call gathers its frame in 16 KiB chunks and joins
 * them into a fresh buffer, and node 24's collector frees those late. A PUSH COPY of a
 * compressible 128 MiB image through the local agent on node 24 took the command to
 * 200-260 MiB that way; the same frames written into a reused buffer and copied into
 * the pool's slabs leave nothing to the collector.
 *
 * The stream's handle is driven directly (writeSync with ZSTD_e_end into our buffer,
 * as node's own zstdCompressSync does into its chunks): undocumented, so every piece
 * is checked first, and without it this falls back to zstdCompressSync.
 */
import * as zlib from 'node:zlib';
import type { ZstdEngine } from './zstd-wasm.js';
import { drivable, writeWholeInto, type NodeCodecStream } from './node-codec-handle.js';

type ZstdStreamClass = new (options: object) => NodeCodecStream;
type ZstdSync = (data: Uint8Array, options: object) => Buffer;

/** ZSTD_compressBound, rounded up: a frame of `n` bytes of input never needs more. */
function compressBound(n: number): number {
  return n + (n >> 7) + 1024;
}

/** The engine, or undefined where this node has no zstd of its own. */
export function builtinZstdEngine(): ZstdEngine | undefined {
  const z = zlib as unknown as Record<string, unknown>;
  const constants = zlib.constants as unknown as Record<string, number>;
  const Stream = z.ZstdCompress as ZstdStreamClass | undefined;
  const DecompressStream = z.ZstdDecompress as ZstdStreamClass | undefined;
  const compressSync = z.zstdCompressSync as ZstdSync | undefined;
  const decompressSync = z.zstdDecompressSync as ZstdSync | undefined;
  const levelParam = constants.ZSTD_c_compressionLevel;
  const end = constants.ZSTD_e_end;
  if (typeof Stream !== 'function' || typeof DecompressStream !== 'function' || typeof compressSync !== 'function' || typeof decompressSync !== 'function') return undefined;
  if (typeof levelParam !== 'number' || typeof end !== 'number') return undefined;

  let out = Buffer.alloc(0);

  const options = (data: Uint8Array, level: number): object => ({ params: { [levelParam]: level }, pledgedSrcSize: data.length });

  /** The frame's length in `out`, or undefined where the handle is not as expected. */
  const compressToOut = (data: Uint8Array, level: number): number | undefined => {
    const need = compressBound(data.length);
    if (out.length < need) out = Buffer.allocUnsafe(need);
    const stream = new Stream(options(data, level));
    try {
      const d = drivable(stream);
      if (d === undefined) return undefined;
      const { handle, state } = d;
      handle.writeSync(end, data, 0, data.length, out, 0, out.length);
      const [outLeft, inLeft] = [state[0]!, state[1]!];
      // With room for the whole bound, one ZSTD_e_end call ends the frame; anything else is a surprise.
      if (inLeft !== 0 || outLeft === 0) return undefined;
      return out.length - outLeft;
    } finally {
      stream.close();
    }
  };

  /** The frame, in `out` where the handle is as expected, else node's own fresh buffer. */
  const frameOf = (data: Uint8Array, level: number): Uint8Array => {
    const n = compressToOut(data, level);
    return n === undefined ? compressSync(data, options(data, level)) : out.subarray(0, n);
  };

  /**
   * Decompresses into `target`: the length, or undefined where the handle is not as
   * expected. zstd's errors reach the handle's onerror from within writeSync (node's
   * own would destroy the stream and emit them later): replaced, they are thrown here.
   */
  const decompressToTarget = (frame: Uint8Array, target: Uint8Array): number | undefined =>
    // chunkSize: the stream's own output buffer, unused here (64 is zlib's least).
    writeWholeInto(new DecompressStream({ chunkSize: 64 }), end, frame, target);

  return {
    compress(data, level) {
      return Buffer.from(frameOf(data, level));
    },
    compressInto(data, level, target) {
      const frame = frameOf(data, level);
      if (frame.length > target.length) return undefined;
      target.set(frame);
      return frame.length;
    },
    decompress(frame, capacity) {
      return decompressSync(frame, { maxOutputLength: Math.max(capacity, 1) });
    },
    decompressInto(frame, target) {
      const n = decompressToTarget(frame, target);
      if (n !== undefined) return n;
      const data = decompressSync(frame, { maxOutputLength: Math.max(target.length, 1) });
      target.set(data);
      return data.length;
    },
  };
}
