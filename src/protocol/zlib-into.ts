/**
 * Inflates a whole zlib stream into memory the caller gives, on the calling thread, by
 * driving node's Inflate handle directly (as zstd-builtin-engine.ts drives zstd's).
 * zlib.inflate's output is fresh memory for every block, and a READ's answer kept so
 * until written was the most of node 20's command of a SYNC PULL (its agent answers
 * with zlib): 2 MiB of garbage per 2 MiB block. The handle is undocumented, so every
 * piece of it is checked first; where it is not as expected, this says so (undefined)
 * and the caller inflates the ordinary way.
 */
import * as zlib from 'node:zlib';
import { drivable, writeWholeInto, type Drivable, type NodeCodecStream } from './node-codec-handle.js';

/**
 * The length `payload` (one whole zlib stream) inflates to, written into `target`; a
 * stream that would inflate past `target` throws ERR_BUFFER_TOO_LARGE, a corrupt or
 * truncated one throws zlib's error. Undefined where node's handle is not as expected.
 */
export function inflateInto(payload: Uint8Array, target: Uint8Array): number | undefined {
  // chunkSize: the stream's own output buffer, unused here (64 is zlib's least).
  const stream = new zlib.Inflate({ chunkSize: 64 }) as unknown as NodeCodecStream;
  return writeWholeInto(stream, zlib.constants.Z_FINISH, payload, target);
}

/**
 * One deflate stream kept for sizing samples (block-codec.ts's looksIncompressible):
 * deflateSync made a stream, its 16 KiB output and 270 KiB of zlib state for each of
 * three samples per block, and node 24's agent of a 1 GiB SYNC PULL grew 7-10 MiB on
 * them. Reset for each sample, into one output buffer.
 */
let sampler: (Drivable & { out: Buffer }) | undefined | null;

/**
 * The length `data` deflates to at level 1, or undefined where node's handle is not as
 * expected (the caller then uses deflateSync). `data` must be at most 64 KiB.
 */
export function deflatedLength(data: Uint8Array): number | undefined {
  if (sampler === null || data.length > 64 * 1024) return undefined;
  if (sampler === undefined) {
    // An 8 KiB sample needs no larger window, nor the default hash table.
    const stream = new zlib.Deflate({ level: 1, windowBits: 13, memLevel: 5, chunkSize: 64 }) as unknown as NodeCodecStream;
    stream.on('error', () => undefined);
    const d = drivable(stream, { onerror: true, reset: true });
    if (d === undefined) {
      stream.close();
      sampler = null;
      return undefined;
    }
    d.handle.onerror = () => {
      sampler = null; // never again: deflateSync from now on
    };
    // zlib's bound for 64 KiB of input, with room to spare.
    sampler = { ...d, out: Buffer.allocUnsafe(64 * 1024 + 1024) };
  }
  const { handle, state, out } = sampler;
  handle.reset!();
  handle.writeSync(zlib.constants.Z_FINISH, data, 0, data.length, out, 0, out.length);
  if (sampler === null) return undefined;
  const [outLeft, inLeft] = [state[0]!, state[1]!];
  if (inLeft !== 0 || outLeft === 0) return undefined;
  return out.length - outLeft;
}
