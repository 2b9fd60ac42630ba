/**
 * The delta runs, composed like api/run.ts composes the others: --write-delta (the
 * blocks a SYNC would write go into a file) and --apply-delta (verified, then
 * written, to a device here or through the agent).
 */
import { BitmapFile } from '../bitmap/bitmap-file.js';
import type { Device } from '../device/device.js';
import type { EngineContext, EngineLog } from '../engine/engine-context.js';
import { syncDevices } from '../engine/sync.js';
import type { TransferCounters } from '../engine/transfer-counters.js';
import { quoteName } from '../report/quote.js';
import type { RunSettings } from './run-settings.js';
import { DeltaDestination } from '../delta/delta-destination.js';
import { advanceBitmap, writeDeltaFromBitmap } from '../delta/delta-from-bitmap.js';
import { DeltaWriter, type DeltaReport } from '../delta/delta-writer.js';
import { compressRequestOf } from '../options/compress-request.js';
import { fileCodecOf } from '../delta/file-codec.js';

export type { DeltaFigures, DeltaReport } from '../delta/delta-writer.js';


export async function writeDeltaRun(
  settings: RunSettings,
  source: Device,
  destination: Device | undefined,
  ctx: EngineContext,
  log: EngineLog,
): Promise<{ counters: TransferCounters; delta: DeltaReport }> {
  const path = settings.writeDelta!;
  const unit = settings.bitmap !== undefined ? settings.chunkSize ?? settings.bufferSize : settings.chunkSize ?? settings.bufferSize;
  const bitmap = settings.bitmap !== undefined
    ? await BitmapFile.open(settings.bitmap, { deviceSize: ctx.size, blockSize: unit, hash: settings.hash }, { reset: settings.resetBitmap === true })
    : undefined;
  try {
    const writer = await DeltaWriter.create(path, { hash: settings.hash, unitSize: unit, deviceSize: ctx.size, kind: 'delta', codec: fileCodecOf(compressRequestOf(settings)) });
    try {
      let counters: TransferCounters;
      if (bitmap !== undefined) {
        log.verbose(`writing delta ${quoteName(path)} from ${source.label} against bitmap ${quoteName(bitmap.path)} (${bitmap.entries} entries of ${unit} bytes)`);
        const made = await writeDeltaFromBitmap(source, bitmap, writer, { ...ctx, blockSize: unit, chunkSize: undefined });
        const figures = await writer.finish();
        // Only now that the delta is whole and durable may the bitmap describe its result.
        await advanceBitmap(bitmap, made.changed);
        counters = made.counters;
        return { counters, delta: { ...figures, operation: 'write' } };
      }
      log.verbose(`writing delta ${quoteName(path)}: ${source.label} compared with ${destination!.label}, which is not written`);
      counters = await syncDevices(source, new DeltaDestination(destination!, writer, ctx.digest), ctx);
      const figures = await writer.finish();
      return { counters, delta: { ...figures, operation: 'write' } };
    } catch (error) {
      await writer.abandon();
      throw error;
    }
  } finally {
    await bitmap?.close();
  }
}
