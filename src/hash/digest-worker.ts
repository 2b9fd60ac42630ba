/**
 * A hashing thread. It is given ranges of a file descriptor this process holds open,
 * reads them itself (synchronously: blocking a thread of its own costs nobody) and
 * posts back only the digests (range-jobs.ts): no block's bytes cross between threads.
 *
 * Bundled to dist/digest-worker.cjs and started with eval, so it also runs inside the
 * agent, which has no files of its own on the remote host.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { hashById, loadIncrementalDigest } from './hash-algorithms.js';
import { providePieces } from '../pieces/agent-pieces.js';
import { RANGE_PIECE_BYTES, RangeReadFailure, runRangeJob, type RangeJob, type RangeWorkspace } from './range-jobs.js';

export type NumberedRangeJob = RangeJob & { id: number };

export interface RangeJobResult {
  id: number;
  result?: ArrayBuffer;
  /** A read that failed: where, on which descriptor, and the system's error (none for a short read). */
  failure?: { offset: number; fd: number; code?: string; message: string };
}

const data = workerData as { hashId: number; pieces: Record<string, string> };
providePieces(data.pieces);
const algorithm = hashById(data.hashId)!;
void loadIncrementalDigest(algorithm).then((hasher) => {
  const port = parentPort!;
  const workspace: RangeWorkspace = { piece: Buffer.allocUnsafe(RANGE_PIECE_BYTES), hasher, digestLength: algorithm.digestLength };
  port.on('message', (job: NumberedRangeJob) => {
    void runRangeJob(job, workspace).then(
      (out) => {
        const result = out.buffer as ArrayBuffer;
        port.postMessage({ id: job.id, result } satisfies RangeJobResult, [result]);
      },
      (error: unknown) => {
        if (!(error instanceof RangeReadFailure)) throw error;
        const failure = { offset: error.offset, fd: error.fd, code: error.code, message: error.message };
        port.postMessage({ id: job.id, failure } satisfies RangeJobResult);
      },
    );
  });
  port.postMessage('ready');
});
