/**
 * Before a bitmap is trusted, a few blocks whose entries are known are read from the
 * destination and compared with them. A bitmap used against another destination (or
 * a destination changed behind its back) is caught for the price of a few reads.
 */
import { BitmapError } from '../errors.js';
import { quoteName } from '../report/quote.js';
import type { BitmapFile } from '../bitmap/bitmap-file.js';
import { isUnknown } from '../bitmap/bitmap-format.js';
import type { Device } from '../device/device.js';

export const SPOT_CHECK_SAMPLES = 8;

/** Returns the number of blocks checked; throws BitmapError on the first mismatch. */
export async function spotCheckBitmap(bitmap: BitmapFile, destination: Device, size: number, samples = SPOT_CHECK_SAMPLES): Promise<number> {
  const unit = bitmap.blockSize;
  const chosen = new Set<number>();
  // Random probes: up to 8 per wanted sample, so a mostly unknown bitmap still finds some known entries.
  const candidates: number[] = [];
  for (let i = 0; i < samples * 8; i++) candidates.push(Math.floor(Math.random() * bitmap.entries));
  const known: number[] = [];
  for (const index of candidates) {
    if (known.length >= samples) break;
    if (chosen.has(index)) continue;
    chosen.add(index);
    if (!isUnknown(await bitmap.read(index, 1))) known.push(index);
  }
  // All probes at once: one round trip to a remote destination, not eight.
  const digests = await Promise.all(known.map((index) => {
    const offset = index * unit;
    const length = Math.min(unit, size - offset);
    return destination.chunkDigests(offset, length, length);
  }));
  for (const [k, index] of known.entries()) {
    const entry = await bitmap.read(index, 1);
    const offset = index * unit;
    if (!digests[k]![0]!.equals(entry)) {
      throw new BitmapError(
        `bitmap ${quoteName(bitmap.path)} does not match ${destination.label}: the block at offset ${offset} differs from its recorded digest ` +
          `(another device, or changed since the last run); use --update-bitmap to compare and resend differences, ` +
          `or --reset-bitmap to send everything`,
        { device: bitmap.path, operation: 'bitmap spot check', offset },
      );
    }
  }
  const checked = known.length;
  return checked;
}
