/**
 * --write-delta with a bitmap: the source's digests are compared with the bitmap's
 * entries, the destination is neither needed nor read, and each differing unit goes
 * into the delta with the bitmap's entry as its before digest (unknown when the entry
 * is). The bitmap is left exactly as it was until the delta is complete and durable;
 * only then are the new digests recorded. A run killed before that leaves the bitmap
 * as it was, so it is never ahead of a delta that does not exist.
 */
import { isUnknown } from '../bitmap/bitmap-format.js';
import type { BitmapFile } from '../bitmap/bitmap-file.js';
import type { Device } from '../device/device.js';
import type { EngineContext } from '../engine/engine-context.js';
import { emptyCounters, type TransferCounters } from '../engine/transfer-counters.js';
import type { DeltaWriter } from './delta-writer.js';

const PAGE_ENTRIES = 8192;
/** Recorded digests written to the bitmap in runs of at most this many entries. */
const RUN_ENTRIES = 4096;

export async function writeDeltaFromBitmap(source: Device, bitmap: BitmapFile, writer: DeltaWriter, ctx: EngineContext): Promise<{ counters: TransferCounters; changed: Buffer[] }> {
  const unit = bitmap.blockSize;
  const D = bitmap.digestLength;
  const counters = emptyCounters();
  // Changed units and their new digests, compactly: index (8 bytes) + digest.
  const changed: Buffer[] = [];
  let page: Buffer = Buffer.alloc(0);
  let pageFirst = -1;
  ctx.progress.start('DELTA', ctx.size);
  const threads = ctx.hashThreads ?? 1;
  for await (const s of source.digests(0, ctx.size, unit, ctx.signal, { threads })) {
    const index = s.offset / unit;
    if (pageFirst < 0 || index >= pageFirst + PAGE_ENTRIES) {
      pageFirst = Math.floor(index / PAGE_ENTRIES) * PAGE_ENTRIES;
      page = await bitmap.read(pageFirst, PAGE_ENTRIES);
    }
    const entry = page.subarray((index - pageFirst) * D, (index - pageFirst + 1) * D);
    counters.blocksCompared++;
    ctx.progress.update(s.offset + s.length);
    if (s.digest.equals(entry)) continue;
    counters.blocksDiffering++;
    ctx.signal.throwIfAborted();
    ctx.onDifference?.(s.offset, s.length);
    const data = s.data !== undefined ? Buffer.from(s.data) : await source.read(s.offset, s.length);
    // Read again from a remote source (PULL): hash what goes into the delta.
    const after = s.data !== undefined ? Buffer.from(s.digest) : ctx.digest(data);
    await writer.add(s.offset, data, isUnknown(entry) ? undefined : Buffer.from(entry), after);
    const record = Buffer.alloc(8 + D);
    record.writeDoubleLE(index, 0);
    after.copy(record, 8);
    changed.push(record);
    counters.writes++;
    counters.bytesWritten += s.length;
  }
  ctx.progress.end();
  return { counters, changed };
}

/** Records the delta's after digests in the bitmap: call only once the delta is durable. */
export async function advanceBitmap(bitmap: BitmapFile, changed: readonly Buffer[]): Promise<void> {
  const D = bitmap.digestLength;
  let i = 0;
  while (i < changed.length) {
    const first = changed[i]!.readDoubleLE(0);
    let j = i + 1;
    while (j < changed.length && j - i < RUN_ENTRIES && changed[j]!.readDoubleLE(0) === first + (j - i)) j++;
    await bitmap.write(first, Buffer.concat(changed.slice(i, j).map((r) => r.subarray(8, 8 + D))));
    i = j;
  }
  await bitmap.sync();
}
