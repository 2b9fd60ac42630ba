/**
 * node:zlib's streams (its zlib and its zstd alike) driven through their native handle:
 * a whole input run through in one writeSync, into memory of ours, with none of the
 * output buffers node's own API makes per call (garbage node 24 frees late). The handle
 * is undocumented, so every piece of it is checked first (`drivable`), and where it is
 * not as expected the callers use node's public API instead.
 */

export interface NodeCodecHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  /** Called (message, errno, code) from within writeSync when the codec fails. */
  onerror?: (...args: unknown[]) => void;
  reset?: () => void;
}

export interface NodeCodecStream {
  _handle?: NodeCodecHandle;
  /** [output bytes left, input bytes left] after a write. */
  _writeState?: Uint32Array;
  close(): void;
  on(event: 'error', listener: () => void): void;
}

export interface Drivable {
  handle: NodeCodecHandle;
  state: Uint32Array;
}

/** The stream's handle and write state, or undefined where they are not as expected. */
export function drivable(stream: NodeCodecStream, needs: { onerror?: boolean; reset?: boolean } = {}): Drivable | undefined {
  const handle = stream._handle;
  const state = stream._writeState;
  if (handle === undefined || typeof handle.writeSync !== 'function' || !(state instanceof Uint32Array) || state.length < 2) return undefined;
  if (needs.onerror === true && !('onerror' in handle)) return undefined;
  if (needs.reset === true && typeof handle.reset !== 'function') return undefined;
  return { handle, state };
}

/** An error as node's codecs give it: `code` such as Z_DATA_ERROR, or ERR_BUFFER_TOO_LARGE. */
export function codecError(message: string, code: unknown): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Runs the whole of `input` through the (decompressing) stream, ending it with `flush`,
 * into `target`: the bytes written, or undefined where the handle is not as expected.
 * The codec's errors reach the handle's onerror from within writeSync (node's own
 * would destroy the stream and emit them later): replaced, they are thrown here. Output
 * that does not fit in `target` throws ERR_BUFFER_TOO_LARGE, input left over after the
 * end TRAILING_DATA. The stream is closed either way.
 */
export function writeWholeInto(stream: NodeCodecStream, flush: number, input: Uint8Array, target: Uint8Array): number | undefined {
  // Should node's own error handler ever run, its 'error' event must not end the process.
  stream.on('error', () => undefined);
  try {
    const d = drivable(stream, { onerror: true });
    if (d === undefined) return undefined;
    const { handle, state } = d;
    let failure: { message: string; code: unknown } | undefined;
    handle.onerror = (message, _errno, code) => (failure ??= { message: String(message), code });
    const fail = (): never => {
      throw codecError(failure!.message, failure!.code);
    };
    handle.writeSync(flush, input, 0, input.length, target, 0, target.length);
    if (failure !== undefined) fail();
    const [outLeft, inLeft] = [state[0]!, state[1]!];
    if (inLeft !== 0) {
      // Output full with input left: longer than the target. Else bytes after the end.
      if (outLeft === 0) throw codecError('the output is longer than its target', 'ERR_BUFFER_TOO_LARGE');
      throw codecError(`${inLeft} bytes left over after the end`, 'TRAILING_DATA');
    }
    if (outLeft === 0) {
      // Full: one more byte must not come, and the input must have ended (a cut one is
      // the codec's error here).
      const probe = new Uint8Array(1);
      handle.writeSync(flush, input, input.length, 0, probe, 0, 1);
      if (failure !== undefined) fail();
      if (state[0] === 0) throw codecError('the output is longer than its target', 'ERR_BUFFER_TOO_LARGE');
    }
    return target.length - outLeft;
  } finally {
    stream.close();
  }
}
