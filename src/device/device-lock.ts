/**
 * One writer per device on a host. An agent whose client died (killed, connection
 * cut) may still be finishing writes it had queued; a new run must not write the same
 * device until that agent is gone, or its late writes could land over newer data that
 * the new run has already recorded in a bitmap.
 *
 * The lock is a Unix socket in Linux's abstract namespace, named after the device's
 * identity (st_dev and st_ino, or the block device's number): binding it is exclusive,
 * needs no file, and is released by the kernel the moment its process ends, however it
 * ends. Where abstract sockets do not exist the lock is not taken.
 */
import { createServer, type Server } from 'node:net';
import type { Stats } from 'node:fs';

export interface DeviceLock {
  release(): Promise<void>;
}

/** The abstract socket name for a device (NUL first: not a file). */
export function lockName(info: Stats): string {
  const id = info.isBlockDevice() ? `b${info.rdev}` : `f${info.dev}-${info.ino}`;
  return `\0basyn-device-${id}`;
}

function tryBind(name: string): Promise<Server | 'busy' | 'unsupported'> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'EADDRINUSE' ? 'busy' : 'unsupported');
    });
    server.listen(name, () => {
      server.unref();
      resolve(server);
    });
  });
}

/**
 * Takes the lock, waiting up to `waitMs` for a previous holder to go. Resolves with
 * undefined when the platform has no abstract sockets; throws `busy` otherwise.
 */
export async function lockDevice(info: Stats, waitMs: number, busy: () => Error): Promise<DeviceLock | undefined> {
  if (process.platform !== 'linux') return undefined;
  const name = lockName(info);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await tryBind(name);
    if (r === 'unsupported') return undefined;
    if (r !== 'busy') {
      return { release: () => new Promise((resolve) => r.close(() => resolve())) };
    }
    if (Date.now() >= deadline) throw busy();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
