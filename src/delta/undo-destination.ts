/**
 * --undo: the destination, wrapped so that the old contents of every block about to
 * be overwritten go into an undo file (the delta format, kind "undo": before = the
 * new contents' digest, after = the old one's) and are durable before the write is
 * issued. Writes are held back in batches (cut by bytes, and at every flush of the
 * engine), never one fsync per block: per batch, the old blocks are read, appended,
 * a checkpoint is fsynced, and only then are the batch's writes passed on.
 * --apply-delta=UNDO then rolls the run back, verified like any delta.
 */
import type { Device, WriteOptions } from '../device/device.js';
import { WrappedDevice } from '../device/wrapped-device.js';
import type { DigestFunction } from '../hash/hash-algorithms.js';
import type { DeltaWriter } from './delta-writer.js';

/** Bytes of writes held back before their old contents are saved and they are issued. */
const UNDO_BATCH_BYTES = 16 * 1024 * 1024;

export class UndoDestination extends WrappedDevice {
  private held: { offset: number; data: Buffer }[] = [];
  private heldBytes = 0;
  /** Serialises batches: writes arrive from concurrent block moves. */
  private committing: Promise<void> = Promise.resolve();

  constructor(
    inner: Device,
    private readonly undo: DeltaWriter,
    private readonly digest: DigestFunction,
  ) {
    super(inner);
  }

  async write(offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    // Held as a copy, so the caller's memory is free at once.
    this.held.push({ offset, data: Buffer.from(data) });
    options?.written?.();
    this.heldBytes += data.length;
    if (this.heldBytes >= UNDO_BATCH_BYTES) await this.commit();
  }

  private commit(): Promise<void> {
    const batch = this.held;
    this.held = [];
    this.heldBytes = 0;
    const step = this.committing.then(async () => {
      if (batch.length === 0) return;
      for (const w of batch) {
        const old = await this.inner.read(w.offset, w.data.length);
        const oldDigest = this.digest(old);
        const newDigest = this.digest(w.data);
        // A block rewritten with what it holds needs nothing to undo.
        if (!oldDigest.equals(newDigest)) await this.undo.add(w.offset, old, newDigest, oldDigest);
      }
      await this.undo.checkpoint();
      for (const w of batch) await this.inner.write(w.offset, w.data);
    });
    this.committing = step.catch(() => undefined);
    return step;
  }

  async flush(): Promise<void> {
    await this.commit();
    await this.inner.flush();
  }
}
