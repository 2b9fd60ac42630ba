/**
 * Hashing (or comparing) on several threads, for scans where this process is the only
 * one hashing (a bitmap SYNC reads only the source, so the second core would otherwise
 * idle), and for a SYNC of two devices of this machine. Each thread reads its ranges
 * itself from a descriptor this process holds open (digest-worker.ts): only digests,
 * or one byte per block compared, come back. Jobs go to the threads in turn.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { quietWorker } from '../util/quiet-worker.js';
import type { HashAlgorithm } from './hash-algorithms.js';
import { pieceSources } from '../pieces/agent-pieces.js';
import type { NumberedRangeJob, RangeJobResult } from './digest-worker.js';
import { RangeReadFailure, type RangeJob } from './range-jobs.js';

export { RangeReadFailure };

declare const __BASYN_DIGEST_WORKER__: string | undefined;

let source: string | undefined;

/** The worker's bundled source: inlined in the agent bundle, read from dist/ otherwise. */
function workerSource(): string {
  if (typeof __BASYN_DIGEST_WORKER__ === 'string') return __BASYN_DIGEST_WORKER__;
  source ??= readFileSync(fileURLToPath(new URL('../../digest-worker.cjs', import.meta.url)), 'utf8');
  return source;
}

export class DigestPool {
  private readonly waiting = new Map<number, { resolve(r: Buffer): void; reject(e: unknown): void }>();
  private nextId = 1;
  private turn = 0;
  private failure: unknown;

  /** Settles once every thread is up (or one failed to start); jobs may be given before. */
  readonly ready: Promise<void>;
  private readonly workers: Worker[];

  /** `threads` threads hashing with `algorithm` (its WebAssembly piece travels with them). */
  constructor(algorithm: HashAlgorithm, threads: number) {
    const code = workerSource();
    // A thread has no share in what the bootstrap received: its piece travels with it.
    const pieces = pieceSources(algorithm.piece !== undefined ? [algorithm.piece] : []);
    this.workers = Array.from({ length: threads }, () => quietWorker(code, { eval: true, workerData: { hashId: algorithm.id, pieces } }));
    this.ready = Promise.all(this.workers.map((w) => new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
      w.once('exit', () => reject(new Error('a hashing thread stopped before it was ready')));
    }))).then(() => undefined);
    this.ready.catch(() => undefined);
    for (const w of this.workers) {
      w.on('message', (r: RangeJobResult | 'ready') => {
        if (r === 'ready') return;
        const p = this.waiting.get(r.id);
        if (p === undefined) return;
        this.waiting.delete(r.id);
        if (r.failure !== undefined) p.reject(new RangeReadFailure(r.failure.offset, r.failure.fd, r.failure.code, r.failure.message));
        else p.resolve(Buffer.from(r.result!));
      });
      w.on('error', (error) => this.failAll(error));
    }
  }

  /** Runs `job` on one of the threads (range-jobs.ts says what it returns). */
  run(job: RangeJob): Promise<Buffer> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    const worker = this.workers[this.turn++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ ...job, id } satisfies NumberedRangeJob);
    });
  }

  private failAll(error: unknown): void {
    this.failure ??= error;
    for (const p of this.waiting.values()) p.reject(error);
    this.waiting.clear();
  }

  /**
   * Stops the threads, up or not. A thread in the middle of a job finishes its current
   * read first (terminate waits for it), so the descriptors may be closed once this resolves.
   */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
