/**
 * One run per bitmap at a time. The lock is a file next to the bitmap
 * (FILE.lock), created exclusively and holding "pid hostname". A lock whose process
 * is gone on this host (a run killed with -9) is stale and taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { BitmapError, systemErrorText } from '../errors.js';

export interface BitmapLock {
  readonly path: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockBitmap(bitmapPath: string): Promise<BitmapLock> {
  const path = `${bitmapPath}.lock`;
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = await open(path, 'wx', 0o644);
      await f.writeFile(me);
      await f.close();
      let released = false;
      return {
        path,
        release: async () => {
          if (released) return;
          released = true;
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new BitmapError(`cannot lock bitmap ${bitmapPath}: ${systemErrorText(error)}`, { device: bitmapPath, operation: 'lock' });
      }
    }
    const holder = (await readFile(path, 'utf8').catch(() => '')).trim();
    const [pidText, host] = holder.split(' ');
    const pid = Number(pidText);
    const stale = host === hostname() && Number.isInteger(pid) && pid > 0 && !alive(pid);
    if (!stale) {
      throw new BitmapError(
        `bitmap ${bitmapPath} is in use by another basyn run (${holder === '' ? 'unknown process' : `pid ${pid} on ${host}`}); ` +
          `if no such run exists, delete ${path}`,
        { device: bitmapPath, operation: 'lock' },
      );
    }
    await unlink(path).catch(() => undefined);
  }
  throw new BitmapError(`cannot lock bitmap ${bitmapPath}: the lock file keeps reappearing`, { device: bitmapPath, operation: 'lock' });
}
