/**
 * The work of a hashing thread on one range (digest-worker.ts), also done by the
 * thread that asked for it while its helpers are busy or not yet up: read the range a
 * piece at a time with synchronous reads into a buffer that is reused, so each piece is
 * still in the core's cache when it is hashed or compared, and produce only digests
 * (or one byte per block: whether two devices' blocks differ).
 */
import { readSync } from 'node:fs';
import type { IncrementalDigest } from './hash-algorithms.js';

export interface DigestRangeJob {
  kind: 'digest';
  fd: number;
  offset: number;
  length: number;
  blockSize: number;
}

export interface CompareRangeJob {
  kind: 'compare';
  fd: number;
  otherFd: number;
  offset: number;
  length: number;
  blockSize: number;
}

export type RangeJob = DigestRangeJob | CompareRangeJob;

/**
 * Bytes read at a time: small enough that a piece is still in the core's cache when it
 * is hashed or compared (a 4 MiB read was hashed from main memory, at the speed of the
 * copy into the WebAssembly's memory), large enough that system calls do not count.
 */
export const RANGE_PIECE_BYTES = 256 * 1024;

/** A read of a range that failed: where, on which descriptor, and the system's error (none: a short read). */
export class RangeReadFailure extends Error {
  constructor(readonly offset: number, readonly fd: number, readonly code: string | undefined, message: string) {
    super(message);
  }
}

/** What a range job needs besides the job: its reused piece buffers and hasher. */
export interface RangeWorkspace {
  piece: Buffer;
  otherPiece?: Buffer;
  hasher: IncrementalDigest;
  digestLength: number;
  /** Called between pieces; a thread that also serves an event loop lets it run there. */
  between?: () => Promise<void> | undefined;
}

function readFully(fd: number, buffer: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = readSync(fd, buffer, done, length - done, position + done);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      throw new RangeReadFailure(position + done, fd, e.code, e.message);
    }
    if (n === 0) throw new RangeReadFailure(position + done, fd, undefined, 'unexpected end of data (did the device shrink?)');
    done += n;
  }
}

/**
 * The pieces of [offset, offset + length) (whole blocks from `offset`, the last maybe
 * short), as [position, bytes]: none spans two blocks, and small blocks share one.
 */
export function* rangePieces(offset: number, length: number, blockSize: number, pieceBytes: number): Generator<[number, number]> {
  const step = blockSize >= pieceBytes ? pieceBytes : blockSize * Math.floor(pieceBytes / blockSize);
  const end = offset + length;
  for (let at = offset; at < end;) {
    const blockEnd = blockSize >= pieceBytes ? Math.min(end, offset + (Math.floor((at - offset) / blockSize) + 1) * blockSize) : end;
    const n = Math.min(step, blockEnd - at);
    yield [at, n];
    at += n;
  }
}

/** Runs `job`; resolves to its digests back to back, or (compare) one byte per block, 1 where they differ. */
export async function runRangeJob(job: RangeJob, w: RangeWorkspace): Promise<Uint8Array> {
  return job.kind === 'digest' ? digestRange(job, w) : compareRange(job, w);
}

async function digestRange(job: DigestRangeJob, w: RangeWorkspace): Promise<Uint8Array> {
  const out = new Uint8Array(Math.ceil(job.length / job.blockSize) * w.digestLength);
  const { piece, hasher } = w;
  let block = 0;
  let blockEnd = job.offset + Math.min(job.blockSize, job.length);
  hasher.init();
  for (const [at, n] of rangePieces(job.offset, job.length, job.blockSize, piece.length)) {
    readFully(job.fd, piece, n, at);
    // A piece holds one part of a block, or several whole blocks.
    for (let from = at; from < at + n;) {
      const to = Math.min(at + n, blockEnd);
      hasher.update(piece.subarray(from - at, to - at));
      from = to;
      if (to === blockEnd) {
        out.set(hasher.digest(), block * w.digestLength);
        block++;
        blockEnd = Math.min(job.offset + job.length, blockEnd + job.blockSize);
        hasher.init();
      }
    }
    await w.between?.();
  }
  return out;
}

async function compareRange(job: CompareRangeJob, w: RangeWorkspace): Promise<Uint8Array> {
  const out = new Uint8Array(Math.ceil(job.length / job.blockSize));
  const piece = w.piece;
  const other = (w.otherPiece ??= Buffer.allocUnsafe(piece.length));
  for (const [at, n] of rangePieces(job.offset, job.length, job.blockSize, piece.length)) {
    readFully(job.fd, piece, n, at);
    readFully(job.otherFd, other, n, at);
    const first = Math.floor((at - job.offset) / job.blockSize);
    const last = Math.floor((at + n - 1 - job.offset) / job.blockSize);
    for (let b = first; b <= last; b++) {
      if (out[b] === 1) continue;
      const from = Math.max(at, job.offset + b * job.blockSize) - at;
      const to = Math.min(at + n, job.offset + (b + 1) * job.blockSize) - at;
      if (piece.compare(other, from, to, from, to) !== 0) out[b] = 1;
    }
    await w.between?.();
  }
  return out;
}
