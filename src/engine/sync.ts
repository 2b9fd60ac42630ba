/**
 * SYNC: both devices hash their blocks at the same time (one of them on the agent's
 * core), the engine compares the digests as they stream in, and only blocks whose
 * digests differ are moved. Two devices of this process are compared byte for byte
 * instead (block-pairs.ts). With --chunk a differing block is compared again chunk
 * by chunk and only differing chunks are moved. Transfers of differing blocks run
 * in a bounded window while the comparison goes on.
 */
import { chunkDigestsOf } from '../device/local-device.js';
import { PIECE_BYTES, copyRange } from '../device/pieces.js';
import type { BlockDigest, Device, WriteOptions } from '../device/device.js';
import { BoundedWindow } from '../util/bounded-window.js';
import { NOTHING_TO_RELEASE, SLAB_WORTHWHILE, SlabPool, privateCopy } from '../util/slab-pool.js';
import type { EngineContext } from './engine-context.js';
import { emptyCounters, type TransferCounters } from './transfer-counters.js';
import { blockPairs, comparesBytes } from './block-pairs.js';

const EMPTY = Buffer.alloc(0);

/**
 * Differing blocks being moved at once: by bytes, and by count, since each small block
 * in flight is an object, a promise and (in PULL) an outstanding request of its own.
 * 512, not 1024: at --buffer 4 the command of a SYNC PUSH through the agent peaked at
 * 152 MiB with 1024 and 134 with 256 (the remote device's own write window holds 256);
 * 512 keeps more PULL requests in flight over a slow link. 8 MiB, not 16: with the
 * remote device's write window and the early digest stream's kept data (each halved
 * with it), a SYNC PUSH of 256 MiB of mixed data through the agent peaked at 161 MiB
 * with 16 and 131 with 8, in the same time (farm-bench, 5 runs each).
 */
const TRANSFER_WINDOW = { bytes: 8 * 1024 * 1024, items: 512 };

export async function syncDevices(source: Device, destination: Device, ctx: EngineContext): Promise<TransferCounters> {
  const counters = emptyCounters();
  const transfers = new BoundedWindow(TRANSFER_WINDOW);
  ctx.progress.start('SYNC', ctx.size);
  const { pairs, byBytes } = blockPairs(source, destination, ctx);
  for await (const [s, d] of pairs) {
    counters.blocksCompared++;
    ctx.progress.update(s.offset + s.length);
    if (s.digest.equals(d.digest)) continue;
    counters.blocksDiffering++;
    if (ctx.log.debugEnabled) {
      const digests = byBytes ? 'compared byte for byte' : `source ${s.digest.toString('hex')}, destination ${d.digest.toString('hex')}`;
      ctx.log.debug(`block at ${s.offset}+${s.length} differs: ${digests}`);
    }
    ctx.signal.throwIfAborted();
    if (byBytes && ctx.chunkSize === undefined && s.data !== undefined) {
      // Both devices in this process: the write borrows the stream's buffer, and the
      // destination copies it into memory it reuses (not a fresh copy per block).
      await moveBlock(source, destination, s, undefined, ctx, counters, { borrowed: true });
      continue;
    }
    // The streams reuse their buffers once advanced: keep copies for the transfer,
    // lent to the destination's writes (which copy what they keep) and given back after.
    const own = ownData(s);
    const dOwn = ctx.chunkSize !== undefined ? ownData(d) : { block: { ...d, data: undefined }, release: NOTHING_TO_RELEASE };
    if (byBytes) own.block.digest = dOwn.block.digest = EMPTY; // the reused buffers, stale once advanced
    await transfers.add(s.length, async () => {
      try {
        // A copy from the slabs is lent to the write; a small one is given to it.
        await moveBlock(source, destination, own.block, dOwn.block, ctx, counters, { borrowed: s.length >= SLAB_WORTHWHILE });
      } finally {
        own.release();
        dOwn.release();
      }
    });
  }
  await transfers.drain();
  if (ctx.dryRun !== true) await destination.flush();
  ctx.progress.end();
  return counters;
}

/**
 * Copies of blocks being moved, in reused slabs: a fresh copy per differing block was
 * garbage the collector freed tens of MiB late (slab-pool.ts).
 */
const heldBlocks = new SlabPool(PIECE_BYTES);

/**
 * The digest with a private copy of its data, safe to keep past the stream's next step
 * until `release`. A block longer than a piece keeps no data: it is read again, a piece
 * at a time, when it is moved (a copy of each such block in flight was tens of MiB).
 */
function ownData(b: BlockDigest): { block: BlockDigest; release(): void } {
  if (b.data === undefined) return { block: b, release: NOTHING_TO_RELEASE };
  if (b.length > PIECE_BYTES) return { block: { ...b, data: undefined }, release: NOTHING_TO_RELEASE };
  const copy = privateCopy(heldBlocks, b.data);
  return { block: { ...b, data: copy.buffer }, release: copy.release };
}

/** Moves one differing block, or only its differing chunks. */
export async function moveBlock(
  source: Device,
  destination: Device,
  s: BlockDigest,
  d: BlockDigest | undefined,
  ctx: EngineContext,
  counters: TransferCounters,
  writeOptions?: WriteOptions,
): Promise<void> {
  const chunkSize = ctx.chunkSize;
  if (chunkSize === undefined || chunkSize >= s.length || d === undefined) {
    // A block no larger than a chunk (the short last one) is its own only chunk.
    if (chunkSize !== undefined && d !== undefined) counters.chunksDiffering++;
    ctx.onDifference?.(s.offset, s.length);
    if (ctx.dryRun === true) {
      counters.bytesWritten += s.length;
      return;
    }
    if (s.data !== undefined) await destination.write(s.offset, s.data, writeOptions);
    else await copyRange(source, destination, s.offset, s.length);
    counters.writes++;
    counters.bytesWritten += s.length;
    return;
  }
  // Both blocks in this process: their chunks' bytes stand in for the chunk digests.
  const [sourceChunks, destinationChunks] = comparesBytes(source, destination) && s.data !== undefined && d.data !== undefined
    ? [chunksOf(s.data, chunkSize), chunksOf(d.data, chunkSize)]
    : await Promise.all([
      s.data !== undefined ? chunkDigestsOf(s.data, chunkSize, ctx.digest) : source.chunkDigests(s.offset, s.length, chunkSize),
      d.data !== undefined ? chunkDigestsOf(d.data, chunkSize, ctx.digest) : destination.chunkDigests(d.offset, d.length, chunkSize),
    ]);
  for (let i = 0; i < sourceChunks.length; i++) {
    if (sourceChunks[i]!.equals(destinationChunks[i]!)) continue;
    const at = i * chunkSize;
    const length = Math.min(chunkSize, s.length - at);
    counters.chunksDiffering++;
    if (ctx.log.debugEnabled) ctx.log.debug(`chunk at ${s.offset + at}+${length} differs`);
    ctx.onDifference?.(s.offset + at, length);
    if (ctx.dryRun === true) {
      counters.bytesWritten += length;
      continue;
    }
    if (s.data !== undefined) await destination.write(s.offset + at, s.data.subarray(at, at + length), writeOptions);
    else await copyRange(source, destination, s.offset + at, length);
    counters.writes++;
    counters.bytesWritten += length;
  }
}

function chunksOf(data: Buffer, chunkSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkSize) out.push(data.subarray(at, Math.min(at + chunkSize, data.length)));
  return out;
}
