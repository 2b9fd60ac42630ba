/**
 * SYNC with a bitmap file. The source's digests (per bitmap unit: --chunk when
 * given, else --buffer) are compared with the digests recorded in the bitmap, and
 * the destination is never read; with --update-bitmap they are compared with the
 * destination's digests instead, and the bitmap is brought up to date as well.
 *
 * Crash safety (the invariant of DESIGN.md: an entry equals a source digest only if
 * the destination durably holds that block) comes from the order of a commit:
 *   1. the entries of a batch of blocks to be written are set to "unknown" and the
 *      bitmap is fsynced;
 *   2. the blocks are written, and the destination is flushed (fsync on its side);
 *   3. only then are the new digests written into the bitmap.
 * A kill at any point leaves each entry either unknown or equal to what the
 * destination durably holds. Batches are cut by bytes or by time, never per block,
 * and two may be in flight so the link stays busy while one waits for its flush.
 *
 * The destination may be given as a promise (a bitmap PUSH over ssh, bitmap-push-overlap.ts):
 * the source is then read, hashed and compared with the bitmap while ssh logs in and
 * the agent starts, and nothing (neither a block nor an entry) is written before the
 * promise has settled: it resolves only once the destination's size and the spot check
 * have been found right. If it rejects, the run fails with its error, nothing written.
 */
import { BitmapError } from '../errors.js';
import { BoundedWindow } from '../util/bounded-window.js';
import { SlabPool } from '../util/slab-pool.js';
import type { BitmapFile } from '../bitmap/bitmap-file.js';
import { isUnknown } from '../bitmap/bitmap-format.js';
import type { BlockDigest, Device } from '../device/device.js';
import { PIECE_BYTES, copyRange } from '../device/pieces.js';
import { loadIncrementalDigest } from '../hash/hash-algorithms.js';
import type { EngineContext } from './engine-context.js';
import { emptyCounters, type TransferCounters } from './transfer-counters.js';
import { zipDigests } from './zip-digests.js';

/**
 * A batch is committed when it holds this many bytes of blocks, or this many blocks...
 * Up to three batches' blocks are held (two committing, one filling), each one an
 * object or two that lives long enough to reach V8's old generation: 16 MiB and 8192
 * blocks took a first run at --buffer 4 to 200 MiB, 8 MiB and 1024 blocks to 153 MiB.
 * (Only blocks under 32 KiB reach the count first: at the default --buffer a batch
 * is cut by bytes.)
 */
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_ITEMS = 256;
/**
 * Blocks smaller than this are hashed on this thread: two hashing threads cost about
 * 30 MiB and their read-ahead 8 MiB more, and with blocks this small the work per block
 * on this thread, not hashing, bounds the scan (an unchanged run of 128 MiB at --buffer
 * 4 took 1.3 times as long with the threads as without: bench/README.md).
 */
const SMALLEST_BLOCK_FOR_HASH_THREADS = 64 * 1024;
/**
 * Moves of one batch in flight at once: in PULL each is a read from the agent (a round
 * trip to hide); in PUSH a write, and the destination queues no more than 256 anyway.
 */
const MOVES_WINDOW = { bytes: BATCH_BYTES, items: 1024 };
const MOVES_WINDOW_WITH_DATA = { bytes: BATCH_BYTES, items: 256 };
/** ...or when its first block waited this long. */
const BATCH_MS = 1000;
const COMMITS_IN_FLIGHT = 2;
/** Entries read from the bitmap at a time. */
const PAGE_ENTRIES = 8192;

export type BitmapSyncMode = 'bitmap' | 'update';

export async function bitmapSync(
  source: Device,
  destinationOrLater: Device | Promise<Device> | undefined,
  bitmap: BitmapFile,
  ctx: EngineContext,
  mode: BitmapSyncMode,
): Promise<TransferCounters> {
  const later = destinationOrLater instanceof Promise ? destinationOrLater : undefined;
  if (later !== undefined && mode === 'update') throw new Error('--update-bitmap reads the destination: it cannot come later');
  const destination = later !== undefined ? undefined : (destinationOrLater as Device | undefined);
  const unit = bitmap.blockSize;
  if (unit !== ctx.blockSize) throw new Error(`bitmap unit ${unit} differs from the engine's block size ${ctx.blockSize}`);
  const counters = emptyCounters();
  const pages = new EntryPages(bitmap);
  const committer = new BitmapCommitter(bitmap, source, later ?? destination, { ...ctx, chunkSize: undefined }, counters);
  const hasDestination = destinationOrLater !== undefined;
  ctx.progress.start(mode === 'update' ? 'SYNC+BITMAP' : 'BITMAP SYNC', ctx.size);
  try {
    // Reading only the source, this side hashes alone: let it read and hash on every core.
    // (Threads give back digests without the data: a new bitmap, which sends every block,
    // reads and hashes on this thread and keeps each block's data for its write. Blocks
    // under SMALLEST_BLOCK_FOR_HASH_THREADS stay here too: per-block costs, not hashing,
    // bound them, and the threads' read-ahead would cost memory for nothing.)
    const threads = mode === 'bitmap' && !bitmap.fresh && unit >= SMALLEST_BLOCK_FOR_HASH_THREADS ? ctx.hashThreads ?? 1 : 1;
    const sourceDigests = source.digests(0, ctx.size, unit, ctx.signal, { threads });
    const pairs: AsyncIterable<[BlockDigest, BlockDigest | undefined]> =
      mode === 'update' ? zipDigests(sourceDigests, destination!.digests(0, ctx.size, unit, ctx.signal)) : alone(sourceDigests);
    for await (const [s, d] of pairs) {
      // A destination found wrong while the scan ran ahead stops the scan at once.
      committer.throwIfFailed();
      const index = s.offset / unit;
      const entry = await pages.get(index);
      counters.blocksCompared++;
      ctx.progress.update(s.offset + s.length);
      const reference = d?.digest ?? entry;
      if (s.digest.equals(reference)) {
        // Equal to the destination (update mode): record it if the bitmap says otherwise.
        if (!entry.equals(s.digest) && ctx.dryRun !== true) await committer.record(index, s.digest);
        await committer.tick();
        continue;
      }
      counters.blocksDiffering++;
      if (ctx.log.debugEnabled) {
        ctx.log.debug(`block at ${s.offset}+${s.length} differs: source ${s.digest.toString('hex')}, ${d !== undefined ? 'destination' : 'bitmap'} ${reference.toString('hex')}`);
      }
      ctx.signal.throwIfAborted();
      if (ctx.dryRun === true) {
        ctx.onDifference?.(s.offset, s.length);
        counters.bytesWritten += s.length;
      } else if (!hasDestination) await committer.record(index, s.digest);
      else await committer.transfer(index, s, isUnknown(entry));
    }
    if (later !== undefined && !committer.hasDestination) {
      ctx.log.verbose(`source compared with the bitmap before the destination was open: ${counters.blocksDiffering} of ${counters.blocksCompared} blocks differ`);
    }
    if (ctx.dryRun !== true) await committer.finish();
    // Even when nothing differed the run is right only once the destination is checked.
    if (later !== undefined) await later;
  } catch (error) {
    if (ctx.dryRun !== true) await committer.abandon();
    throw error;
  }
  ctx.progress.end();
  return counters;
}

async function* alone(digests: AsyncIterable<BlockDigest>): AsyncGenerator<[BlockDigest, undefined]> {
  for await (const d of digests) yield [d, undefined];
}

/** Reads the bitmap's entries a page at a time as the scan moves forward. */
class EntryPages {
  private first = 0;
  private page: Buffer = Buffer.alloc(0);
  private next: Promise<Buffer> | undefined;
  constructor(private readonly bitmap: BitmapFile) {}

  async get(index: number): Promise<Buffer> {
    const d = this.bitmap.digestLength;
    if (index < this.first || index >= this.first + this.page.length / d) {
      const start = Math.floor(index / PAGE_ENTRIES) * PAGE_ENTRIES;
      this.page = this.next !== undefined && start === this.first + PAGE_ENTRIES ? await this.next : await this.bitmap.read(start, PAGE_ENTRIES);
      this.first = start;
      const ahead = start + PAGE_ENTRIES;
      this.next = ahead < this.bitmap.entries ? this.bitmap.read(ahead, PAGE_ENTRIES) : undefined;
      this.next?.catch(() => undefined);
    }
    return this.page.subarray((index - this.first) * d, (index - this.first + 1) * d);
  }
}

interface Pending {
  index: number;
  block: BlockDigest;
  wasUnknown: boolean;
  /** Gives the block's copy back to the pool, once its commit is over. */
  release: () => void;
}

/** Orders bitmap writes around destination writes so the invariant always holds. */
class BitmapCommitter {
  private batch: Pending[] = [];
  private batchBytes = 0;
  private batchStarted = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  /** Copies of the blocks of the batches not yet committed (at most three batches' worth). */
  private readonly copies = new SlabPool(PIECE_BYTES);
  /** Entries that may be recorded without a destination write, coalesced into runs. */
  private run: { first: number; digests: Buffer[] } | undefined;
  private destination: Device | undefined;
  private readonly destinationLater: Promise<Device> | undefined;
  private abandoned = false;

  constructor(
    private readonly bitmap: BitmapFile,
    private readonly source: Device,
    destination: Device | Promise<Device> | undefined,
    private readonly ctx: EngineContext,
    private readonly counters: TransferCounters,
  ) {
    if (destination instanceof Promise) {
      this.destinationLater = destination;
      destination.then((d) => void (this.destination = d), (error: unknown) => void (this.failure ??= error));
    } else this.destination = destination;
  }

  /** Records a digest whose block the destination already holds (or when there is none). */
  async record(index: number, digest: Buffer): Promise<void> {
    if (this.run !== undefined && this.run.first + this.run.digests.length === index && this.run.digests.length < 4096) {
      this.run.digests.push(digest);
      return;
    }
    await this.flushRun();
    this.run = { first: index, digests: [digest] };
  }

  private async flushRun(): Promise<void> {
    const run = this.run;
    this.run = undefined;
    if (run !== undefined) await this.bitmap.write(run.first, Buffer.concat(run.digests));
  }

  /** Queues a differing block; `streamed` is the stream's, valid until it moves on (a copy is kept). */
  async transfer(index: number, streamed: BlockDigest, wasUnknown: boolean): Promise<void> {
    this.throwIfFailed();
    if (this.batch.length === 0) this.batchStarted = performance.now();
    let block = streamed;
    let release = (): void => undefined;
    if (streamed.data !== undefined && streamed.length > PIECE_BYTES) block = { ...streamed, data: undefined }; // read again, in pieces
    else if (streamed.data !== undefined) {
      // Copied into reused slabs, given back when the batch is committed: no fresh memory per block.
      const copy = this.copies.copy(streamed.data);
      block = { ...streamed, data: copy.buffer };
      release = copy.release;
    }
    this.batch.push({ index, block, wasUnknown, release });
    this.batchBytes += block.length;
    if (this.batchBytes >= BATCH_BYTES || this.batch.length >= BATCH_ITEMS) await this.commitBatch();
  }

  /** Commits a batch that has waited long enough (called as the scan goes on). */
  async tick(): Promise<void> {
    if (this.batch.length > 0 && performance.now() - this.batchStarted >= BATCH_MS) await this.commitBatch();
  }

  private async commitBatch(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length === 0) return;
    while (this.inFlight.size >= COMMITS_IN_FLIGHT) {
      await Promise.race(this.inFlight);
      this.throwIfFailed();
    }
    const p: Promise<void> = this.commit(batch).then(
      () => void this.inFlight.delete(p),
      (error: unknown) => {
        this.inFlight.delete(p);
        this.failure ??= error;
      },
    );
    this.inFlight.add(p);
  }

  private async commit(batch: Pending[]): Promise<void> {
    await this.commitInOrder(batch);
    // Every write of the batch is done and flushed: its copies may be reused. (After a
    // failure they are not: a write may still be queued, and the pool just forgets them.)
    for (const p of batch) p.release();
  }

  private async commitInOrder(batch: Pending[]): Promise<void> {
    // Nothing is written, not even an entry, before a destination that comes later is checked.
    const destination = this.destination ?? (await this.destinationLater!);
    if (this.abandoned) throw new Error('the run was abandoned before the destination was ready');
    const zero = Buffer.alloc(this.bitmap.digestLength);
    const known = batch.filter((p) => !p.wasUnknown);
    if (known.length > 0) {
      for (const run of runsOf(known.map((p) => ({ index: p.index, digest: zero })))) await this.bitmap.write(run.first, run.data);
      await this.bitmap.sync();
    }
    // Blocks of a PULL are read from the agent: keep several reads in flight, not one round trip each.
    const moves = new BoundedWindow(batch[0]!.block.data !== undefined ? MOVES_WINDOW_WITH_DATA : MOVES_WINDOW);
    const written: { index: number; digest: Buffer }[] = [];
    for (const p of batch) {
      await moves.add(p.block.length, async () => {
        written.push({ index: p.index, digest: await this.move(p.block) });
      });
    }
    await moves.drain();
    await destination.flush();
    written.sort((a, b) => a.index - b.index);
    for (const run of runsOf(written)) await this.bitmap.write(run.first, run.data);
  }

  /**
   * Writes one block and returns the digest of the bytes written. A block read again
   * from a remote source (PULL) is hashed here: the source may have changed since its
   * digest was streamed, and the bitmap must describe what the destination holds.
   */
  private async move(block: BlockDigest): Promise<Buffer> {
    if (block.data === undefined && block.length > PIECE_BYTES && this.ctx.hash !== undefined) {
      // Moved a piece at a time, and hashed as the pieces pass: no whole block is held.
      const hasher = await loadIncrementalDigest(this.ctx.hash);
      await copyRange(this.source, this.destination!, block.offset, block.length, hasher);
      this.counters.writes++;
      this.counters.bytesWritten += block.length;
      return hasher.digest();
    }
    const data = block.data ?? (await this.source.read(block.offset, block.length));
    const digest = block.data !== undefined ? block.digest : this.ctx.digest(data);
    await this.destination!.write(block.offset, data);
    this.counters.writes++;
    this.counters.bytesWritten += block.length;
    return digest;
  }

  get hasDestination(): boolean {
    return this.destination !== undefined;
  }

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async finish(): Promise<void> {
    await this.commitBatch();
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    this.throwIfFailed();
    await this.flushRun();
    await this.bitmap.sync();
  }

  /**
   * After a failure or an interruption: batches already under way are finished (their
   * blocks written and flushed, their digests recorded); the batch not yet begun is
   * dropped, which is safe because none of its entries or blocks were touched.
   */
  async abandon(): Promise<void> {
    for (const p of this.batch) p.release();
    this.batch = [];
    this.abandoned = true;
    await Promise.allSettled([...this.inFlight]);
    try {
      await this.flushRun();
      await this.bitmap.sync();
    } catch (error) {
      if (!(error instanceof BitmapError)) throw error;
    }
  }
}

/** Groups entries into runs of consecutive indices, each as one buffer. */
function runsOf(entries: { index: number; digest: Buffer }[]): { first: number; data: Buffer }[] {
  const runs: { first: number; data: Buffer }[] = [];
  let i = 0;
  while (i < entries.length) {
    let j = i + 1;
    while (j < entries.length && entries[j]!.index === entries[j - 1]!.index + 1) j++;
    runs.push({ first: entries[i]!.index, data: Buffer.concat(entries.slice(i, j).map((e) => e.digest)) });
    i = j;
  }
  return runs;
}
