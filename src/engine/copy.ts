/**
 * COPY: every block of the source is sent and written, in order, with no reads of
 * the destination. Compression (on the side that sends) runs on the thread pool for
 * several blocks at once. Blocks longer than a piece travel as pieces (pieces.ts):
 * COPY compares nothing, so its block size is only a bound on what moves at once.
 */
import type { Device } from '../device/device.js';
import { PIECE_BYTES, blocksStartingIn } from '../device/pieces.js';
import type { EngineContext } from './engine-context.js';
import { emptyCounters, type TransferCounters } from './transfer-counters.js';

export async function copyDevices(source: Device, destination: Device, ctx: EngineContext): Promise<TransferCounters> {
  const counters = emptyCounters();
  ctx.progress.start('COPY', ctx.size);
  // A source in this process reads into buffers it reuses, and the destination copies
  // each block into memory it reuses in turn: no fresh 4 MiB per read to be collected.
  const reuse = source.inProcess;
  const blocks = source.blocks(0, ctx.size, Math.min(ctx.blockSize, PIECE_BYTES), ctx.signal, { reuseBuffers: reuse });
  for await (const block of blocks) {
    ctx.signal.throwIfAborted();
    // A block in memory its source reuses goes back once written (WriteOptions.written).
    const release = block.release;
    if (release === undefined) await destination.write(block.offset, block.data, { borrowed: reuse });
    else {
      try {
        await destination.write(block.offset, block.data, { written: release });
      } catch (error) {
        release(); // a write that rejects kept nothing of it
        throw error;
      }
    }
    // Counted in blocks, as before pieces: --stat and --json say the same.
    const blocks = blocksStartingIn(block.offset, block.data.length, ctx.blockSize);
    counters.blocksDiffering += blocks;
    counters.writes += blocks;
    counters.bytesWritten += block.data.length;
    ctx.progress.update(block.offset + block.data.length);
  }
  await destination.flush();
  ctx.progress.end();
  return counters;
}
