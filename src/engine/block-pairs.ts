/**
 * The pairs of same-range blocks that SYNC and RECHECK walk. Normally each device
 * hashes its own blocks (on its own core, or its own machine) and only digests meet
 * here. When both devices read into this process, the bytes themselves stand in for
 * the digests: comparing 2 MiB with memcmp costs a fraction of hashing it twice on
 * the cores this process shares, and it is exact where a digest is only nearly so.
 * Two local files are read and compared by threads, a range each (digest-worker.ts).
 */
import type { Block, BlockDigest, Device } from '../device/device.js';
import { LocalDevice } from '../device/local-device.js';
import { PIECE_BYTES } from '../device/pieces.js';
import { usableCpus } from '../util/node-features.js';
import { THREADS_FROM_BYTES } from '../hash/range-lanes.js';
import type { EngineContext } from './engine-context.js';
import { zipDigests } from './zip-digests.js';

export interface BlockPairs {
  pairs: AsyncGenerator<[BlockDigest, BlockDigest]>;
  /** True when `digest` is the block's bytes (too long to log). */
  byBytes: boolean;
}

/** Whether two devices are compared by their bytes rather than by digests. */
export function comparesBytes(a: Device, b: Device): boolean {
  return a.inProcess && b.inProcess;
}

export function blockPairs(a: Device, b: Device, ctx: EngineContext): BlockPairs {
  if (comparesBytes(a, b)) {
    // Two files of this machine: threads read and compare ranges of both on every core.
    const threads = Math.min(ctx.hashThreads ?? 1, usableCpus());
    if (threads > 1 && ctx.size >= THREADS_FROM_BYTES && a instanceof LocalDevice && b instanceof LocalDevice) {
      return { pairs: a.comparedWith(b, ctx.size, ctx.blockSize, threads, ctx.signal), byBytes: true };
    }
    if (ctx.blockSize > PIECE_BYTES) return { pairs: comparedInPieces(a, b, ctx), byBytes: true };
    const bytes = (d: Device): AsyncIterable<BlockDigest> =>
      bytesAsDigests(d.blocks(0, ctx.size, ctx.blockSize, ctx.signal, { reuseBuffers: true }));
    return { pairs: zipDigests(bytes(a), bytes(b)), byBytes: true };
  }
  return {
    pairs: zipDigests(a.digests(0, ctx.size, ctx.blockSize, ctx.signal), b.digests(0, ctx.size, ctx.blockSize, ctx.signal)),
    byBytes: false,
  };
}

async function* bytesAsDigests(blocks: AsyncIterable<Block>): AsyncGenerator<BlockDigest> {
  for await (const { offset, data } of blocks) yield { offset, length: data.length, digest: data, data };
}

const SAME = Buffer.from([0]);
const DIFFERENT = Buffer.from([1]);

/**
 * Blocks longer than a piece compared a piece at a time: no whole block is held. Each
 * pair stands for one block, its `digest` a marker that is equal on both sides only
 * when every piece was; it carries no data (a differing block is read again, in
 * pieces, to be moved).
 */
async function* comparedInPieces(a: Device, b: Device, ctx: EngineContext): AsyncGenerator<[BlockDigest, BlockDigest]> {
  const options = { reuseBuffers: true, pieceBytes: PIECE_BYTES };
  const pieces = zipDigests(
    bytesAsDigests(a.blocks(0, ctx.size, ctx.blockSize, ctx.signal, options)),
    bytesAsDigests(b.blocks(0, ctx.size, ctx.blockSize, ctx.signal, options)),
  );
  let blockStart = 0;
  let same = true;
  for await (const [x, y] of pieces) {
    same &&= x.digest.equals(y.digest);
    const reached = x.offset + x.length;
    if (reached === ctx.size || reached - blockStart === ctx.blockSize) {
      const length = reached - blockStart;
      yield [{ offset: blockStart, length, digest: SAME }, { offset: blockStart, length, digest: same ? SAME : DIFFERENT }];
      blockStart = reached;
      same = true;
    }
  }
}
