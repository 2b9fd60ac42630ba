/**
 * A hashing thread: receives a read unit (its ArrayBuffer is transferred, not
 * copied), digests it block by block, and transfers the buffer back with the
 * digests. Bundled to dist/digest-worker.cjs and started with eval, so it also
 * runs inside the agent, which has no files of its own on the remote host.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { hashById, loadDigest } from './hash-algorithms.js';
import { providePieces } from '../pieces/agent-pieces.js';

export interface DigestJob {
  id: number;
  buffer: ArrayBuffer;
  length: number;
  blockSize: number;
}

export interface DigestJobResult {
  id: number;
  buffer: ArrayBuffer;
  digests: ArrayBuffer;
}

const data = workerData as { hashId: number; pieces: Record<string, string> };
providePieces(data.pieces);
const algorithm = hashById(data.hashId)!;
void loadDigest(algorithm).then((digest) => {
  const port = parentPort!;
  port.on('message', (job: DigestJob) => {
    const data = Buffer.from(job.buffer, 0, job.length);
    const count = Math.ceil(job.length / job.blockSize);
    const out = Buffer.allocUnsafe(count * algorithm.digestLength);
    for (let i = 0; i < count; i++) {
      digest(data.subarray(i * job.blockSize, Math.min((i + 1) * job.blockSize, job.length))).copy(out, i * algorithm.digestLength);
    }
    const digests = out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
    const result: DigestJobResult = { id: job.id, buffer: job.buffer, digests };
    port.postMessage(result, [job.buffer, digests]);
  });
  port.postMessage('ready');
});
