/**
 * COPY: every block of the source is sent and written, in order, with no reads of
 * the destination. Compression (on the side that sends) runs on the thread pool for
 * several blocks at once.
 */
import type { Device } from '../device/device.js';
import type { EngineContext } from './engine-context.js';
import { emptyCounters, type TransferCounters } from './transfer-counters.js';

export async function copyDevices(source: Device, destination: Device, ctx: EngineContext): Promise<TransferCounters> {
  const counters = emptyCounters();
  ctx.progress.start('COPY', ctx.size);
  for await (const block of source.blocks(0, ctx.size, ctx.blockSize, ctx.signal)) {
    ctx.signal.throwIfAborted();
    await destination.write(block.offset, block.data);
    counters.blocksDiffering++;
    counters.writes++;
    counters.bytesWritten += block.data.length;
    ctx.progress.update(block.offset + block.data.length);
  }
  await destination.flush();
  ctx.progress.end();
  return counters;
}
