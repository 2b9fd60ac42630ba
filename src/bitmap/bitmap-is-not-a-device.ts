/**
 * A bitmap (or a delta) is a file of its own. `-b` naming one of the devices (by the
 * same path, a symlink or a hard link) would have basyn write digests over the data it
 * syncs, so it is a usage error, found before anything is opened.
 */
import { UsageError } from '../errors.js';
import { quoteName } from '../report/quote.js';
import { fileIdentity } from '../util/file-identity.js';

export interface DeviceOnThisMachine {
  side: 'local' | 'remote';
  path: string;
}

/**
 * Throws a UsageError when `path` (-b's bitmap, --write-delta's delta) is the same file
 * as one of `devices` (same device and inode, or, for files not created yet, the same
 * real path); `option` is the option as the caller spells it. Devices behind ssh on
 * another host can't be compared and are not passed in.
 */
export async function refuseFileThatIsADevice(path: string, devices: readonly DeviceOnThisMachine[], option: string, what: string): Promise<void> {
  const identity = await fileIdentity(path);
  if (identity === undefined) return;
  for (const device of devices) {
    if ((await fileIdentity(device.path)) !== identity) continue;
    throw new UsageError(`${option} ${quoteName(path)} is the same file as the ${device.side} device ${quoteName(device.path)}; ${what} must be a file of its own`);
  }
}
