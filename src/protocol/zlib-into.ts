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

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  /** Called (message, errno, code) from within writeSync when zlib fails. */
  onerror?: (...args: unknown[]) => void;
}

interface ZlibStream {
  _handle?: ZlibHandle;
  /** [output bytes left, input bytes left] after a write. */
  _writeState?: Uint32Array;
  close(): void;
  on(event: 'error', listener: () => void): void;
}

/** An error as node's zlib gives it: `code` such as Z_DATA_ERROR, or ERR_BUFFER_TOO_LARGE. */
function zlibError(message: string, code: unknown): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The length `payload` (one whole zlib stream) inflates to, written into `target`; a
 * stream that would inflate past `target` throws ERR_BUFFER_TOO_LARGE, a corrupt or
 * truncated one throws zlib's error. Undefined where node's handle is not as expected.
 */
export function inflateInto(payload: Uint8Array, target: Uint8Array): number | undefined {
  const finish = zlib.constants.Z_FINISH;
  // chunkSize: the stream's own output buffer, unused here (64 is zlib's least).
  const stream = new zlib.Inflate({ chunkSize: 64 }) as unknown as ZlibStream;
  // Should node's own error handler ever run, its 'error' event must not end the process.
  stream.on('error', () => undefined);
  try {
    const handle = stream._handle;
    const state = stream._writeState;
    if (handle === undefined || typeof handle.writeSync !== 'function' || !('onerror' in handle) || !(state instanceof Uint32Array) || state.length < 2) return undefined;
    let failure: { message: string; code: unknown } | undefined;
    handle.onerror = (message, _errno, code) => (failure ??= { message: String(message), code });
    const fail = (): never => {
      throw zlibError(failure!.message, failure!.code);
    };
    handle.writeSync(finish, payload, 0, payload.length, target, 0, target.length);
    if (failure !== undefined) fail();
    const [outLeft, inLeft] = [state[0]!, state[1]!];
    if (inLeft !== 0) {
      // Output full with input left: the stream is longer than its target. Else bytes after its end.
      if (outLeft === 0) throw zlibError('the stream is longer than its target', 'ERR_BUFFER_TOO_LARGE');
      throw zlibError(`${inLeft} bytes left over after the stream`, 'TRAILING_DATA');
    }
    if (outLeft === 0) {
      // Full: one more byte must not come, and the stream must have ended (a truncated
      // one is zlib's "unexpected end of file" here).
      const probe = new Uint8Array(1);
      handle.writeSync(finish, payload, payload.length, 0, probe, 0, 1);
      if (failure !== undefined) fail();
      if (state[0] === 0) throw zlibError('the stream is longer than its target', 'ERR_BUFFER_TOO_LARGE');
    }
    return target.length - outLeft;
  } finally {
    stream.close();
  }
}

/**
 * One deflate stream kept for sizing samples (block-codec.ts's looksIncompressible):
 * deflateSync made a stream, its 16 KiB output and 270 KiB of zlib state for each of
 * three samples per block, and node 24's agent of a 1 GiB SYNC PULL grew 7-10 MiB on
 * them. Reset for each sample, into one output buffer.
 */
let sampler: { stream: ZlibStream & { _handle: ZlibHandle & { reset(): void } }; out: Buffer } | undefined | null;

/**
 * The length `data` deflates to at level 1, or undefined where node's handle is not as
 * expected (the caller then uses deflateSync). `data` must be at most 64 KiB.
 */
export function deflatedLength(data: Uint8Array): number | undefined {
  if (sampler === null || data.length > 64 * 1024) return undefined;
  if (sampler === undefined) {
    // An 8 KiB sample needs no larger window, nor the default hash table.
    const stream = new zlib.Deflate({ level: 1, windowBits: 13, memLevel: 5, chunkSize: 64 }) as unknown as ZlibStream;
    stream.on('error', () => undefined);
    const handle = stream._handle as (ZlibHandle & { reset?: unknown }) | undefined;
    const state = stream._writeState;
    if (handle === undefined || typeof handle.writeSync !== 'function' || typeof handle.reset !== 'function' || !('onerror' in handle) || !(state instanceof Uint32Array) || state.length < 2) {
      stream.close();
      sampler = null;
      return undefined;
    }
    handle.onerror = () => {
      sampler = null; // never again: deflateSync from now on
    };
    // zlib's bound for 64 KiB of input, with room to spare.
    sampler = { stream: stream as ZlibStream & { _handle: ZlibHandle & { reset(): void } }, out: Buffer.allocUnsafe(64 * 1024 + 1024) };
  }
  const { stream, out } = sampler;
  stream._handle.reset();
  stream._handle.writeSync(zlib.constants.Z_FINISH, data, 0, data.length, out, 0, out.length);
  if (sampler === null) return undefined;
  const [outLeft, inLeft] = [stream._writeState![0]!, stream._writeState![1]!];
  if (inLeft !== 0 || outLeft === 0) return undefined;
  return out.length - outLeft;
}
