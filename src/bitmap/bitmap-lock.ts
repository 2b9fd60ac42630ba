/**
 * One run per bitmap at a time. The lock is a file next to the bitmap
 * (FILE.lock), created exclusively and holding "pid hostname". A lock whose process
 * is gone on this host (a run killed with -9) is stale and taken over.
 *
 * Taking over a stale file is a read-then-unlink, which two runs could do at once;
 * so runs on one host first take an abstract Unix socket named after the bitmap's
 * path (released by the kernel when its process dies), and touch the file only
 * while they hold it.
 */
import { createHash } from 'node:crypto';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { lockName } from '../device/device-lock.js';
import { BitmapError, systemErrorText } from '../errors.js';
import { quoteName } from '../report/quote.js';

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
  const hostLock = await lockName(`bitmap-${createHash('sha1').update(resolve(bitmapPath)).digest('hex')}`, 0);
  if (hostLock === 'busy') throw inUse(bitmapPath, path, (await readFile(path, 'utf8').catch(() => '')).trim());
  try {
    const fileLock = await lockFile(bitmapPath, path);
    return {
      path,
      release: async () => {
        await fileLock.release();
        await hostLock?.release();
      },
    };
  } catch (error) {
    await hostLock?.release();
    throw error;
  }
}

function inUse(bitmapPath: string, path: string, holder: string): BitmapError {
  const [pidText, host] = holder.split(' ');
  return new BitmapError(
    `bitmap ${quoteName(bitmapPath)} is in use by another basyn run (${holder === '' ? 'unknown process' : `pid ${Number(pidText)} on ${host}`}); ` +
      `if no such run exists, delete ${quoteName(path)}`,
    { device: bitmapPath, operation: 'lock' },
  );
}

async function lockFile(bitmapPath: string, path: string): Promise<BitmapLock> {
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
        throw new BitmapError(`cannot lock bitmap ${quoteName(bitmapPath)}: ${systemErrorText(error)}`, { device: bitmapPath, operation: 'lock' });
      }
    }
    const holder = (await readFile(path, 'utf8').catch(() => '')).trim();
    const [pidText, host] = holder.split(' ');
    const pid = Number(pidText);
    const stale = host === hostname() && Number.isInteger(pid) && pid > 0 && !alive(pid);
    if (!stale) throw inUse(bitmapPath, path, holder);
    await unlink(path).catch(() => undefined);
  }
  throw new BitmapError(`cannot lock bitmap ${quoteName(bitmapPath)}: the lock file keeps reappearing`, { device: bitmapPath, operation: 'lock' });
}
