/**
 * --apply-delta: a verification pass, then the writes. Every range a delta touches
 * must hold the entry's after digest (already applied: skipped) or its before digest
 * (written); anything else refuses the whole apply before one byte is written,
 * unless --force. So a delta applied to the wrong base, applied twice, or applied
 * again after an interruption does the right thing or nothing.
 *
 * Several deltas (a chain) are checked as one: the entries of one range, file after
 * file, must follow each other (each before equals the previous after, or is
 * unknown); the device may hold any state of that sequence, and gets the last. A
 * chain given out of order breaks that sequence wherever the order matters, and is
 * refused. A single delta is checked streaming; a chain keeps one small record per
 * touched range in memory.
 */
import { SyncError } from '../errors.js';
import type { Device } from '../device/device.js';
import type { EngineContext } from '../engine/engine-context.js';
import { emptyCounters, type TransferCounters } from '../engine/transfer-counters.js';
import { quoteName } from '../report/quote.js';
import type { DeltaEntry, DeltaFile } from './delta-reader.js';

/** Device digests asked for at once (remote: requests in flight). */
const VERIFY_WINDOW = 64;

export interface ApplyOptions {
  force: boolean;
}

/** Per file, per entry: 1 when the entry is to be written. */
type Plan = Uint8Array[];

export async function applyDeltas(files: DeltaFile[], device: Device, ctx: EngineContext, options: ApplyOptions): Promise<TransferCounters> {
  const counters = emptyCounters();
  for (const f of files) {
    if (f.header.deviceSize !== device.size) {
      throw new SyncError(`delta ${quoteName(f.path)} is for a device of ${f.header.deviceSize} bytes, and ${device.label} has ${device.size}; nothing was written`, {
        operation: 'delta check',
      });
    }
    if (f.header.hashId !== files[0]!.header.hashId) {
      throw new SyncError(`deltas ${quoteName(files[0]!.path)} and ${quoteName(f.path)} use different hashes (${files[0]!.hash.name}, ${f.hash.name}): apply them in separate runs; nothing was written`);
    }
  }
  for (let k = 1; k < files.length && !options.force; k++) {
    // A chain is made in order: a later file given first is out of order, even where
    // its entries alone (a fresh bitmap's, of unknown before) could not tell.
    if (files[k]!.header.created < files[k - 1]!.header.created) {
      throw new SyncError(`delta ${quoteName(files[k]!.path)} was made before ${quoteName(files[k - 1]!.path)}, which is given first: the deltas are out of order; nothing was written`);
    }
  }
  const total = files.reduce((n, f) => n + f.dataBytes, 0);
  ctx.progress.start('VERIFY', total);
  const plan = files.length === 1 ? await verifyOne(files[0]!, device, ctx, options, counters) : await verifyChain(files, device, ctx, options, counters);
  ctx.progress.end();
  ctx.progress.start('APPLY', total);
  let done = 0;
  for (let k = 0; k < files.length; k++) {
    const f = files[k]!;
    for await (const e of f.entries()) {
      done += e.length;
      ctx.progress.update(done);
      if (plan[k]![e.index] !== 1) continue;
      ctx.signal.throwIfAborted();
      await device.write(e.offset, await f.data(e));
      counters.writes++;
      counters.bytesWritten += e.length;
    }
  }
  await device.flush();
  ctx.progress.end();
  return counters;
}

/** The device's digests of the entries' ranges, a window of requests at a time. */
async function* withDeviceDigests(entries: AsyncIterable<DeltaEntry>, device: Device): AsyncGenerator<[DeltaEntry, Buffer]> {
  let batch: DeltaEntry[] = [];
  const flush = async function* (): AsyncGenerator<[DeltaEntry, Buffer]> {
    const digests = await Promise.all(batch.map((e) => device.chunkDigests(e.offset, e.length, e.length)));
    for (let i = 0; i < batch.length; i++) yield [batch[i]!, digests[i]![0]!];
    batch = [];
  };
  for await (const e of entries) {
    batch.push(e);
    if (batch.length >= VERIFY_WINDOW) yield* flush();
  }
  yield* flush();
}

/** The page size of the kernel's writes: a killed write stops between pages, never inside one. */
const PAGE = 4096;

/**
 * Whether a block that holds neither digest is one that the stopped run of this undo
 * file was writing when it was killed. Linux ends a write at a page boundary when a
 * fatal signal arrives (SIGKILL), so such a block holds the run's new data up to some
 * page and its old data from there on: its tail, from a page boundary, equals the old
 * contents this undo file saved, and the head cannot be checked (the undo file keeps
 * only the new data's digest). Only an undo file of a run that was stopped is given
 * this allowance, and only for a tail of old data; anything else is still refused.
 */
async function tornByItsRun(f: DeltaFile, e: DeltaEntry, device: Device): Promise<boolean> {
  if (!f.interrupted || f.header.kind !== 'undo') return false;
  const old = await f.data(e);
  const held = await device.read(e.offset, e.length);
  // The first page boundary (of the device) inside the block.
  let boundary = Math.ceil(e.offset / PAGE) * PAGE - e.offset;
  if (boundary === 0) boundary = PAGE;
  for (let at = boundary; at < e.length; at += PAGE) {
    if (held.subarray(at).equals(old.subarray(at))) return true;
  }
  return false;
}

function mismatch(f: DeltaFile, e: DeltaEntry, device: Device, what: string): SyncError {
  return new SyncError(
    `${device.label} does not hold what delta ${quoteName(f.path)} expects at offset ${e.offset} (${e.length} bytes): ${what}; ` +
      `the delta was made against another base, or deltas are applied out of order; nothing was written (--force applies it anyway)`,
    { operation: 'delta verify', offset: e.offset },
  );
}

async function verifyOne(f: DeltaFile, device: Device, ctx: EngineContext, options: ApplyOptions, counters: TransferCounters): Promise<Plan> {
  const plan = new Uint8Array(f.entryCount);
  let done = 0;
  for await (const [e, held] of withDeviceDigests(f.entries(), device)) {
    ctx.signal.throwIfAborted();
    counters.blocksCompared++;
    done += e.length;
    ctx.progress.update(done);
    if (held.equals(e.after)) continue;
    if (e.before !== undefined && !held.equals(e.before) && !options.force && !(await tornByItsRun(f, e, device))) {
      throw mismatch(f, e, device, 'neither the state before it nor the one after');
    }
    counters.blocksDiffering++;
    plan[e.index] = 1;
    if (ctx.log.debugEnabled) ctx.log.debug(`delta entry at ${e.offset}+${e.length} will be written`);
  }
  return [plan];
}

interface Step {
  file: number;
  index: number;
  length: number;
  before: Buffer | undefined;
  after: Buffer;
}

async function verifyChain(files: DeltaFile[], device: Device, ctx: EngineContext, options: ApplyOptions, counters: TransferCounters): Promise<Plan> {
  const plan: Plan = files.map((f) => new Uint8Array(f.entryCount));
  const ranges = new Map<number, Step[]>();
  for (let k = 0; k < files.length; k++) {
    const f = files[k]!;
    for await (const e of f.entries()) {
      const steps = ranges.get(e.offset) ?? [];
      const last = steps.at(-1);
      if (last !== undefined) {
        if (last.length !== e.length) {
          throw new SyncError(`deltas ${quoteName(files[last.file]!.path)} and ${quoteName(f.path)} cut the device differently at offset ${e.offset}: apply them in separate runs; nothing was written`);
        }
        if (last.file === k) throw new SyncError(`delta ${quoteName(f.path)} has two entries for offset ${e.offset}; nothing was written`);
        if (e.before !== undefined && !e.before.equals(last.after) && !options.force) {
          throw new SyncError(
            `delta ${quoteName(f.path)} does not follow ${quoteName(files[last.file]!.path)} at offset ${e.offset}: the deltas are given out of order or are not of one chain; nothing was written`,
            { operation: 'delta verify', offset: e.offset },
          );
        }
      }
      steps.push({ file: k, index: e.index, length: e.length, before: e.before, after: e.after });
      ranges.set(e.offset, steps);
    }
  }
  const offsets = [...ranges.keys()].sort((a, b) => a - b);
  let done = 0;
  for (let i = 0; i < offsets.length; i += VERIFY_WINDOW) {
    const slice = offsets.slice(i, i + VERIFY_WINDOW);
    const held = await Promise.all(slice.map((o) => device.chunkDigests(o, ranges.get(o)![0]!.length, ranges.get(o)![0]!.length)));
    for (let j = 0; j < slice.length; j++) {
      ctx.signal.throwIfAborted();
      const steps = ranges.get(slice[j]!)!;
      const h = held[j]![0]!;
      const last = steps.at(-1)!;
      counters.blocksCompared++;
      done += last.length;
      ctx.progress.update(done);
      if (h.equals(last.after)) continue;
      const known = steps[0]!.before === undefined || steps[0]!.before.equals(h) || steps.some((s) => s.after.equals(h));
      if (!known && !options.force) {
        const f = files[steps[0]!.file]!;
        throw mismatch(f, { offset: slice[j]!, length: last.length } as DeltaEntry, device, 'no state of the chain of deltas');
      }
      counters.blocksDiffering++;
      plan[last.file]![last.index] = 1;
    }
  }
  return plan;
}
