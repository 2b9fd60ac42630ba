/**
 * A bitmap PUSH over ssh hides the login: its source is on this machine and the
 * bitmap already holds the sizes, so the source is read, hashed and compared with the
 * bitmap from the start, while ssh logs in and the agent starts (the nightly run of an
 * unchanged volume then costs about the longer of the two, not their sum). The
 * destination is checked when the agent is up, before anything is written: its size,
 * and the spot check of the bitmap against it; a failure of either ends the run with
 * nothing written, the bitmap unchanged.
 *
 * A PULL cannot do this: its source is the remote device, which only the agent can read,
 * so there is nothing to hash before the login ends (docs/design.md).
 */
import { stat } from 'node:fs/promises';
import { BITMAP_HEADER_SIZE } from '../bitmap/bitmap-format.js';
import type { Device } from '../device/device.js';

export interface OverlapShape {
  action?: 'PUSH' | 'PULL';
  mode?: 'SYNC' | 'COPY';
  bitmap?: string;
  resetBitmap?: boolean;
  updateBitmap?: boolean;
  writeDelta?: string;
  undo?: string;
}

/**
 * Whether this run scans before its destination is open: a bitmap PUSH to an agent,
 * comparing with the bitmap alone (--update-bitmap reads the destination too), with a
 * bitmap that already holds entries, and neither --write-delta nor --undo. A new or reset bitmap sends every block anyway,
 * and would be created before the destination is known to fit.
 */
export async function overlapsLogin(settings: OverlapShape, hasAgent: boolean): Promise<boolean> {
  if (!hasAgent || settings.action !== 'PUSH' || settings.mode !== 'SYNC' || settings.bitmap === undefined) return false;
  if (settings.resetBitmap === true || settings.updateBitmap === true) return false;
  // A delta run writes no destination; an undo run saves the destination's old blocks first.
  if (settings.writeDelta !== undefined || settings.undo !== undefined) return false;
  const info = await stat(settings.bitmap).catch(() => undefined);
  return info !== undefined && info.isFile() && info.size > BITMAP_HEADER_SIZE;
}

/**
 * The destination once it is open and found right by `check` (its size, the spot
 * check). The promise is marked handled, so an early failure of the agent is reported
 * by the scan that awaits it rather than as an unhandled rejection.
 */
export function checkedLater(opening: Promise<Device>, check: (destination: Device) => Promise<void>): Promise<Device> {
  const checked = opening.then(async (d) => {
    await check(d);
    return d;
  });
  checked.catch(() => undefined);
  return checked;
}
