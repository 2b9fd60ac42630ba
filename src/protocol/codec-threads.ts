/**
 * How many blocks (de)compress at once in this process: one per core, at most
 * MAX_THREADS. More only add memory (each holds its block's input and output, and a
 * WASM thread its heap): the link or the reader is the bound before that.
 */
import * as os from 'node:os';
import { ConcurrencyGate } from '../util/concurrency-gate.js';

export const MAX_THREADS = 4;

export function codecThreads(): number {
  // os.availableParallelism is newer than node 18.0.
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_THREADS, cores));
}

/** The gate zlib's and node's zstd's threaded calls pass (the WASM pool bounds itself by its threads). */
export const threadedCodecGate = new ConcurrencyGate(codecThreads());
