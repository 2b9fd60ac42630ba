/**
 * The WASM zstd off the event loop: a few threads (zstd-worker.ts), one per core but
 * one up to codec-threads.ts's MAX_THREADS, each compressing one block at a time. The event loop
 * only copies a block into the thread's input buffer (which travels by transfer, and
 * back, and is reused) and goes on reading, hashing and sending; with the WASM build on
 * the event loop the link idled while it compressed. Jobs beyond the threads wait in
 * line, holding only a reference to a block the caller holds anyway, so memory is the
 * threads' own, not one buffer per block in flight.
 *
 * A compressed block comes back in its input buffer (zstd-worker.ts), is copied into
 * reused slabs packed at its own size (slab-pool.ts), and the buffer goes straight back
 * to its thread; the caller releases the copy once the block is sent. A block that
 * does not shrink comes back the same way, as itself: the input buffer still holds it,
 * and a caller that lent its block (block-codec.ts's LentBlock) has it back by then. The frames held
 * are then bounded by what the caller holds in flight (its write window) at their
 * compressed size, not one block-sized buffer each, and none is left to the collector.
 *
 * Threads are referenced only while they work: an idle pool never keeps the process
 * alive, so an interrupted or cut run exits as it would without it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { quietWorker } from '../util/quiet-worker.js';
import { hasPiece, pieceSources } from '../pieces/agent-pieces.js';
import { wasmZstdThreads } from './codec-threads.js';
import { NOTHING_TO_RELEASE, SlabPool } from '../util/slab-pool.js';
import type { ZstdJob, ZstdJobResult } from './zstd-worker.js';

declare const __BASYN_ZSTD_WORKER__: string | undefined;


/** The thread's bundled source: inlined in the agent bundle, read from dist/ otherwise. */
function workerSource(): string {
  if (typeof __BASYN_ZSTD_WORKER__ === 'string') return __BASYN_ZSTD_WORKER__;
  return readFileSync(fileURLToPath(new URL('../../zstd-worker.cjs', import.meta.url)), 'utf8');
}

/** A compressed block, in memory of the pool's: `release` lends it to later blocks. */
export interface PooledFrame {
  frame: Buffer;
  /** Call once nothing reads `frame` any more (more than once is harmless); never: the GC takes it. */
  release(): void;
  /** The block did not shrink: `frame` is a copy of the block itself. */
  raw?: boolean;
}

/** Slabs the frames are copied into: a few frames each. */
const FRAME_SLAB_BYTES = 4 * 1024 * 1024;

interface Waiting {
  op: ZstdJob['op'];
  data: Uint8Array;
  level: number;
  capacity: number;
  /** Called once a thread holds its own copy of `data` (the caller may reuse it). */
  taken: (() => void) | undefined;
  resolve(out: PooledFrame): void;
  reject(error: Error): void;
}

/** SlabPool's release must come exactly once; a caller may call this one again. */
function onceOnly(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

interface Thread {
  worker: Worker;
  ready: boolean;
  /** The job it works on, if any. */
  job: Waiting | undefined;
  /** Its input buffer while it is here (between jobs). */
  spare: ArrayBuffer | undefined;
}

/** A corrupt frame, as the engine named it (zstd.ts turns it into a ProtocolError). */
export class ZstdEngineError extends Error {}

export class ZstdPool {
  private readonly threads: Thread[] = [];
  private readonly line: Waiting[] = [];
  private readonly frames = new SlabPool(FRAME_SLAB_BYTES);
  private failure: Error | undefined;

  constructor(count = wasmZstdThreads()) {
    const code = workerSource();
    // A thread has no share in what the bootstrap received: the piece travels with it.
    // (An agent on a node with zstd built in is sent no WASM build, and its threads need none.)
    const workerData = { pieces: hasPiece('zstd') ? pieceSources(['zstd']) : {} };
    for (let i = 0; i < count; i++) {
      const thread: Thread = { worker: quietWorker(code, { eval: true, workerData }), ready: false, job: undefined, spare: undefined };
      thread.worker.on('message', (m: ZstdJobResult | 'ready' | { failed: string }) => this.onMessage(thread, m));
      thread.worker.on('error', (error) => this.fail(error));
      thread.worker.on('exit', (code) => {
        if (this.failure === undefined) this.fail(new Error(`a zstd thread exited (code ${code})`));
      });
      this.threads.push(thread);
    }
  }

  get size(): number {
    return this.threads.length;
  }

  /** `taken`: see Waiting; a block that does not shrink comes back as a copy, with `raw`. */
  compress(data: Uint8Array, level: number, taken?: () => void): Promise<PooledFrame> {
    return this.run('compress', data, level, 0, taken);
  }

  /** Decompresses into at most `capacity` bytes; rejects with ZstdEngineError on a corrupt frame. */
  async decompress(frame: Uint8Array, capacity: number): Promise<Buffer> {
    return (await this.run('decompress', frame, 0, capacity, undefined)).frame;
  }

  private run(op: ZstdJob['op'], data: Uint8Array, level: number, capacity: number, taken: (() => void) | undefined): Promise<PooledFrame> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.line.push({ op, data, level, capacity, taken, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const thread of this.threads) {
      if (this.line.length === 0) return;
      if (!thread.ready || thread.job !== undefined) continue;
      const job = this.line.shift()!;
      let input = thread.spare;
      if (input === undefined || input.byteLength < job.data.length) input = new ArrayBuffer(job.data.length);
      thread.spare = undefined;
      new Uint8Array(input, 0, job.data.length).set(job.data);
      job.taken?.();
      thread.job = job;
      thread.worker.ref();
      const message: ZstdJob = { op: job.op, input, length: job.data.length, level: job.level, capacity: job.capacity };
      thread.worker.postMessage(message, [input]);
    }
  }

  private onMessage(thread: Thread, m: ZstdJobResult | 'ready' | { failed: string }): void {
    if (m === 'ready') {
      thread.ready = true;
      thread.worker.unref();
      this.dispatch();
      return;
    }
    if ('failed' in m) {
      this.fail(new Error(`the zstd thread could not load its WASM build: ${m.failed}`));
      return;
    }
    const job = thread.job;
    thread.job = undefined;
    // The frame (or the block that did not shrink) leaves its input buffer as a copy
    // (slab-pool.ts), so the buffer is the thread's again.
    const length = m.inPlace ?? (m.raw === true && job !== undefined ? job.data.length : undefined);
    const frame = length === undefined ? undefined : this.frames.copy(new Uint8Array(m.input, 0, length));
    thread.spare = m.input;
    if (this.line.length === 0) thread.worker.unref();
    this.dispatch();
    if (job === undefined) {
      frame?.release();
      return;
    }
    if (frame !== undefined) job.resolve({ frame: frame.buffer, release: onceOnly(frame.release), ...(m.raw === true ? { raw: true } : {}) });
    else if (m.output !== undefined) job.resolve({ frame: Buffer.from(m.output), release: NOTHING_TO_RELEASE });
    else job.reject(new ZstdEngineError(m.error ?? 'unknown error'));
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    const jobs = [...this.line, ...this.threads.flatMap((t) => (t.job === undefined ? [] : [t.job]))];
    this.line.length = 0;
    for (const t of this.threads) t.job = undefined;
    for (const j of jobs) j.reject(error);
    void this.terminate();
  }

  /** Ends the threads; a job queued or running is rejected (a lent block waits on it). */
  async close(): Promise<void> {
    this.fail(new Error('the zstd pool is closed'));
    await this.terminate();
  }

  private async terminate(): Promise<void> {
    // A terminating thread keeps no hold on the event loop: with nothing else alive the
    // process would end before the threads' exit, and an `await close()` never return.
    const hold = setInterval(() => undefined, 60_000);
    try {
      await Promise.all(this.threads.map((t) => t.worker.terminate()));
    } finally {
      clearInterval(hold);
    }
  }
}

let shared: ZstdPool | undefined;

/** The process's pool, started on first use. */
export function sharedZstdPool(): ZstdPool {
  shared ??= new ZstdPool();
  return shared;
}
