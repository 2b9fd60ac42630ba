/**
 * How many blocks (de)compress at once in this process: one per core, at most
 * MAX_THREADS. More only add memory (each holds its block's input and output, and a
 * WASM thread its heap): the link or the reader is the bound before that.
 */
import * as os from 'node:os';
import { ConcurrencyGate } from '../util/concurrency-gate.js';

export const MAX_THREADS = 4;

function cores(): number {
  // os.availableParallelism is newer than node 18.0.
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export function codecThreads(): number {
  return Math.max(1, Math.min(MAX_THREADS, cores()));
}

/**
 * Threads of the WASM zstd: one core is left to the event loop (reading, copying,
 * sending) and to ssh. Each thread costs 25-30 MiB (an isolate and its WASM heap); on
 * 2 cores a second one was slower, not faster (PUSH COPY of a 128 MiB mixed image
 * through the local agent, farm-bench pairs: 1 thread / 2 threads = 0.84 of the wall
 * time, 150 / 179 MiB peak).
 */
export function wasmZstdThreads(): number {
  return Math.max(1, Math.min(MAX_THREADS, cores() - 1));
}

/** The gate zlib's and node's zstd's threaded calls pass (the WASM pool bounds itself by its threads). */
export const threadedCodecGate = new ConcurrencyGate(codecThreads());
