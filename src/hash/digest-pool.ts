/**
 * Hashing on several threads, for scans where this process is the only one hashing
 * (a bitmap SYNC reads only the source, so the second core would otherwise idle).
 * Units are handed to the threads in turn and their buffers travel by transfer.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm } from './hash-algorithms.js';
import { pieceSources } from '../pieces/agent-pieces.js';
import type { DigestJob, DigestJobResult } from './digest-worker.js';

declare const __BASYN_DIGEST_WORKER__: string | undefined;

let source: string | undefined;

/** The worker's bundled source: inlined in the agent bundle, read from dist/ otherwise. */
function workerSource(): string {
  if (typeof __BASYN_DIGEST_WORKER__ === 'string') return __BASYN_DIGEST_WORKER__;
  source ??= readFileSync(fileURLToPath(new URL('../../digest-worker.cjs', import.meta.url)), 'utf8');
  return source;
}

export interface UnitDigests {
  /** The unit's memory, back from the thread. */
  buffer: ArrayBuffer;
  /** Digests of its blocks, back to back. */
  digests: Buffer;
}

export class DigestPool {
  private readonly waiting = new Map<number, { resolve(r: UnitDigests): void; reject(e: unknown): void }>();
  private nextId = 1;
  private turn = 0;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (r: DigestJobResult) => {
        const p = this.waiting.get(r.id);
        if (p === undefined) return;
        this.waiting.delete(r.id);
        p.resolve({ buffer: r.buffer, digests: Buffer.from(r.digests) });
      });
      w.on('error', (error) => this.failAll(error));
    }
  }

  static async start(algorithm: HashAlgorithm, threads: number): Promise<DigestPool> {
    const code = workerSource();
    // A thread has no share in what the bootstrap received: its piece travels with it.
    const pieces = pieceSources(algorithm.piece !== undefined ? [algorithm.piece] : []);
    const workers = Array.from({ length: threads }, () => new Worker(code, { eval: true, workerData: { hashId: algorithm.id, pieces } }));
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    })));
    return new DigestPool(workers);
  }

  /**
   * Digests the first `length` bytes of `buffer` in blocks of `blockSize`. The buffer
   * is transferred to a thread (unusable here meanwhile) and comes back in the result.
   */
  digest(buffer: ArrayBuffer, length: number, blockSize: number): Promise<UnitDigests> {
    const id = this.nextId++;
    const worker = this.workers[this.turn++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const job: DigestJob = { id, buffer, length, blockSize };
      worker.postMessage(job, [buffer]);
    });
  }

  private failAll(error: unknown): void {
    for (const p of this.waiting.values()) p.reject(error);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
