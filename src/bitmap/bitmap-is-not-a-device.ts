/**
 * A bitmap is a file of its own. `-b` naming one of the devices (by the same path, a
 * symlink or a hard link) would have basyn write digests over the data it syncs, so
 * it is a usage error, found before anything is opened.
 */
import { UsageError } from '../errors.js';
import { quoteName } from '../report/quote.js';
import { fileIdentity } from '../util/file-identity.js';

export interface DeviceOnThisMachine {
  side: 'local' | 'remote';
  path: string;
}

/**
 * Throws a UsageError when `bitmap` is the same file as one of `devices` (same device
 * and inode, or, for files not created yet, the same real path). Devices behind ssh
 * on another host can't be compared and are not passed in.
 */
export async function refuseBitmapThatIsADevice(bitmap: string, devices: readonly DeviceOnThisMachine[]): Promise<void> {
  const bitmapIdentity = await fileIdentity(bitmap);
  if (bitmapIdentity === undefined) return;
  for (const device of devices) {
    if ((await fileIdentity(device.path)) !== bitmapIdentity) continue;
    throw new UsageError(`-b/--bitmap ${quoteName(bitmap)} is the same file as the ${device.side} device ${quoteName(device.path)}; the bitmap must be a file of its own`);
  }
}
