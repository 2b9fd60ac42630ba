/**
 * RECHECK: a full comparison of both devices by block digests (by their bytes when
 * both are in this process), reading both. Reports how many blocks differ and where
 * the first one is; never writes.
 */
import type { Device } from '../device/device.js';
import type { EngineContext } from './engine-context.js';
import { blockPairs } from './block-pairs.js';

export interface RecheckResult {
  blocksCompared: number;
  blocksDiffering: number;
  /** Offset of the first differing block, if any. */
  firstDifference?: number;
}

export async function recheckDevices(a: Device, b: Device, ctx: EngineContext): Promise<RecheckResult> {
  const result: RecheckResult = { blocksCompared: 0, blocksDiffering: 0 };
  ctx.progress.start('RECHECK', ctx.size);
  for await (const [x, y] of blockPairs(a, b, ctx).pairs) {
    result.blocksCompared++;
    ctx.progress.update(x.offset + x.length);
    if (x.digest.equals(y.digest)) continue;
    result.blocksDiffering++;
    result.firstDifference ??= x.offset;
    if (ctx.log.debugEnabled) ctx.log.debug(`recheck: block at ${x.offset}+${x.length} differs`);
  }
  ctx.progress.end();
  return result;
}
