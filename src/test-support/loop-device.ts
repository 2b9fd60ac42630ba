/**
 * Real loop block devices over image files, for tests that must see a block device
 * (size from sysfs, fsync on a device). Needs root and losetup; otherwise
 * `attachLoop` returns the reason so the test can skip visibly.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface LoopDevice {
  path: string;
  detach(): Promise<void>;
}

export async function attachLoop(image: string): Promise<LoopDevice | string> {
  if (process.getuid?.() !== 0) return 'loop devices need root';
  let path: string;
  try {
    path = (await execFileAsync('losetup', ['--find', '--show', image])).stdout.trim();
  } catch (error) {
    const reason = `losetup failed: ${(error as Error).message.split('\n')[0]}`;
    if (process.env.CI === 'true' && process.env.BASYN_REQUIRE_LOOP === '1') throw new Error(reason);
    return reason;
  }
  return {
    path,
    detach: async () => {
      await execFileAsync('losetup', ['-d', path]).catch(() => undefined);
    },
  };
}
