/**
 * Where the range jobs of one scan run (range-jobs.ts): on this thread, and on
 * `threads - 1` hashing threads (digest-pool.ts) once they are up. This thread works
 * too, a job at a time, between serving its event loop: a worker costs tens of ms of
 * CPU to boot a node environment of its own, as much as hashing 256 MiB, so one fewer
 * is cheaper, and the scan starts at once instead of waiting for them. Should the
 * threads fail to start, this thread does all the work.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DigestPool } from './digest-pool.js';
import { loadIncrementalDigest, type HashAlgorithm } from './hash-algorithms.js';
import { RANGE_PIECE_BYTES, runRangeJob, type RangeJob, type RangeWorkspace } from './range-jobs.js';

/**
 * Scans shorter than this run on this thread alone: they are over before a worker
 * would be up, and booting one costs about what hashing 256 MiB does.
 */
export const THREADS_FROM_BYTES = 64 * 1024 * 1024;

/** Jobs kept queued per lane, so none waits for its next while the results are taken. */
export const JOBS_PER_LANE = 2;

export class RangeLanes {
  private readonly pool: DigestPool | undefined;
  private poolReady = false;
  private here: Promise<unknown> = Promise.resolve();
  private hereQueued = 0;
  private workspace: Promise<RangeWorkspace> | undefined;

  readonly threads: number;

  /** Lanes for a scan of `bytes`: up to `threads`, this one included. */
  constructor(private readonly hash: HashAlgorithm, threads: number, bytes: number) {
    this.threads = bytes >= THREADS_FROM_BYTES ? threads : 1;
    if (this.threads > 1) {
      try {
        this.pool = new DigestPool(hash, this.threads - 1);
        this.pool.ready.then(() => void (this.poolReady = true), () => undefined);
      } catch {
        // No threads (none can start here): this one does the work.
      }
    }
  }

  /** Jobs worth keeping in flight. */
  get jobsInFlight(): number {
    return this.threads * JOBS_PER_LANE;
  }

  run(job: RangeJob): Promise<Buffer> {
    if (this.pool !== undefined && this.poolReady && this.hereQueued >= 1) return this.pool.run(job);
    this.hereQueued++;
    const result = this.here.then(() => this.runHere(job)).finally(() => void this.hereQueued--);
    this.here = result.catch(() => undefined);
    return result;
  }

  private async runHere(job: RangeJob): Promise<Buffer> {
    this.workspace ??= loadIncrementalDigest(this.hash).then((hasher) => ({
      piece: Buffer.allocUnsafe(RANGE_PIECE_BYTES),
      hasher,
      digestLength: this.hash.digestLength,
      // Synchronous reads of a piece at a time, with the event loop served in between.
      between: () => nextTurn(),
    }));
    const out = await runRangeJob(job, await this.workspace);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }

  /** Once the jobs given are done or failed: the threads stop, and the descriptors may be closed. */
  async close(): Promise<void> {
    await this.here;
    // Threads not yet up are stopped as they are: a short scan does not wait for them.
    await this.pool?.close();
  }
}
