/**
 * A plain PUSH SYNC over ssh hides the login too (as a bitmap PUSH does,
 * bitmap-push-overlap.ts): its source is on this machine and the run's digest stream
 * of it is known before the agent is up (from 0 to the source's size, in blocks of
 * --buffer). So the source is read and hashed from the start, on every core (nothing
 * else hashes here yet), while ssh logs in and the agent starts; the digests are kept
 * (a few bytes per block, and the data of the first 16 MiB) and handed to the SYNC
 * when it begins. Nothing is written before that: the destination is opened and its size
 * checked first, as in any run. A differing block is read again to be moved.
 *
 * A PULL cannot do this (its source is the remote device), and neither does a run
 * reading its source from a pipe (it can be read once only), one writing a delta or
 * saving undo data (they have their own order of work).
 */
import type { BlockDigest, Device, DigestOptions, WriteOptions } from '../device/device.js';
import { WrappedDevice } from '../device/wrapped-device.js';
import { PIECE_BYTES } from '../device/pieces.js';
import { NOTHING_TO_RELEASE, SlabPool, privateCopy } from '../util/slab-pool.js';

export interface SyncOverlapShape {
  action?: 'PUSH' | 'PULL';
  mode?: 'SYNC' | 'COPY';
  local?: string;
  bitmap?: string;
  writeDelta?: string;
  undo?: string;
}

/** Whether this run hashes its source while the agent starts (a plain PUSH SYNC to an agent). */
export function syncOverlapsLogin(settings: SyncOverlapShape, hasAgent: boolean): boolean {
  return hasAgent && settings.action === 'PUSH' && settings.mode === 'SYNC' && settings.bitmap === undefined &&
    settings.writeDelta === undefined && settings.undo === undefined && settings.local !== undefined && settings.local !== '-';
}

/**
 * How far the stream runs ahead of the SYNC at most: in blocks (memory: a few hundred
 * bytes of objects each, and their data within KEPT_DATA_BYTES), and in bytes, so that
 * a block found to differ is read again soon after the stream read it, from the page
 * cache rather than the disk. 512 MiB is what two cores hash in about the time of a
 * login. 1024 blocks, not more: at --buffer 1 the command of a SYNC through the agent
 * peaked at 185-190 MiB with 16384 kept, 134-161 with 4096 and 132-138 with 1024
 * (and TRANSFER_WINDOW's 512 items); kept blocks outlive many young-generation
 * collections, and V8 grows its heap for them. Blocks of 512 KiB and more are bound by
 * the bytes; smaller ones hash less far ahead during the login than they could.
 */
const KEPT_AHEAD = 1024;
const KEPT_AHEAD_BYTES = 512 * 1024 * 1024;
/**
 * Block data kept with the digests, at most: a small run's differing blocks then need
 * no second read. (A stream on several threads brings no data: those are read again.)
 */
const KEPT_DATA_BYTES = 8 * 1024 * 1024;

/**
 * The source, with its digest stream of [0, size) in blocks of `blockSize` already
 * under way. The first digests() call for that very range takes the stream; any other
 * call goes to the device. close() stops the stream (its reads end before the device
 * is closed, so no read lands on a descriptor closed and reused meanwhile).
 */
export class EarlyDigestSource extends WrappedDevice {
  private readonly kept: { block: BlockDigest; release(): void }[] = [];
  /** The kept blocks' data: copies in reused slabs, given back once the SYNC moves past them. */
  private readonly keptCopies = new SlabPool(PIECE_BYTES);
  private ended = false;
  private failure: unknown;
  private taken = false;
  private stopped = false;
  private wakeReader: (() => void) | undefined;
  private wakePump: (() => void) | undefined;
  private readonly pumping: Promise<void>;

  private hashed = 0;
  private keptDataBytes = 0;

  /** `onTaken` is told how many blocks were hashed before the SYNC began (for --verbose). */
  constructor(source: Device, private readonly blockSize: number, options: DigestOptions, private readonly onTaken?: (hashed: number, blocks: number) => void) {
    super(source);
    this.pumping = this.pump(options);
  }

  private async pump(options: DigestOptions): Promise<void> {
    const digests = this.inner.digests(0, this.inner.size, this.blockSize, undefined, options)[Symbol.asyncIterator]();
    try {
      for (;;) {
        while (this.kept.length >= Math.min(KEPT_AHEAD, Math.max(1, Math.floor(KEPT_AHEAD_BYTES / this.blockSize))) && !this.stopped) {
          await new Promise<void>((resolve) => (this.wakePump = resolve));
        }
        if (this.stopped) break;
        const next = await digests.next();
        if (next.done === true) break;
        const d = next.value;
        // The stream's buffers are reused as it moves on: keep copies (of the data, within a budget).
        const keepData = d.data !== undefined && this.keptDataBytes + d.data.length <= KEPT_DATA_BYTES;
        if (keepData) this.keptDataBytes += d.data!.length;
        const copy = keepData ? privateCopy(this.keptCopies, d.data!) : undefined;
        this.kept.push({ block: { offset: d.offset, length: d.length, digest: Buffer.from(d.digest), data: copy?.buffer }, release: copy?.release ?? NOTHING_TO_RELEASE });
        this.hashed++;
        this.wakeReader?.();
      }
    } catch (error) {
      this.failure = error;
    } finally {
      this.ended = true;
      this.wakeReader?.();
      await digests.return?.(undefined).catch(() => undefined);
    }
  }

  override digests(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: DigestOptions): AsyncIterable<BlockDigest> {
    if (this.taken || start !== 0 || end !== this.inner.size || blockSize !== this.blockSize) return super.digests(start, end, blockSize, signal, options);
    this.taken = true;
    this.onTaken?.(this.hashed, Math.ceil(this.inner.size / this.blockSize));
    return this.early(signal);
  }

  private async *early(signal?: AbortSignal): AsyncGenerator<BlockDigest> {
    for (;;) {
      signal?.throwIfAborted();
      const d = this.kept.shift();
      if (d !== undefined) {
        this.keptDataBytes -= d.block.data?.length ?? 0;
        this.wakePump?.();
        try {
          yield d.block;
        } finally {
          // The stream has moved on (Device.digests: data is valid until then).
          d.release();
        }
        continue;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
      this.wakeReader = undefined;
    }
  }

  write(offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    return this.inner.write(offset, data, options);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  override async close(): Promise<void> {
    this.stopped = true;
    this.wakePump?.();
    await this.pumping;
    await this.inner.close();
  }
}
