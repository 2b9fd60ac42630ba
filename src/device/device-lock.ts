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

export interface NamedLock {
  release(): Promise<void>;
}

export type DeviceLock = NamedLock;

/** The lock name of a device: its identity, so two paths to one device share it. */
export function deviceLockName(info: Stats): string {
  return info.isBlockDevice() ? `device-b${info.rdev}` : `device-f${info.dev}-${info.ino}`;
}

function tryBind(name: string): Promise<Server | 'busy' | 'unsupported'> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'EADDRINUSE' ? 'busy' : 'unsupported');
    });
    server.listen(`\0basyn-${name}`, () => {
      server.unref();
      resolve(server);
    });
  });
}

/**
 * Takes the host-wide lock `name`, waiting up to `waitMs` for a holder to go.
 * Resolves with undefined where abstract sockets do not exist (no lock), or with
 * 'busy' when the wait ran out.
 */
export async function lockName(name: string, waitMs: number): Promise<NamedLock | 'busy' | undefined> {
  if (process.platform !== 'linux') return undefined;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await tryBind(name);
    if (r === 'unsupported') return undefined;
    if (r !== 'busy') return { release: () => new Promise((resolve) => r.close(() => resolve())) };
    if (Date.now() >= deadline) return 'busy';
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Takes the writer lock of a device, waiting up to `waitMs`; throws `busy()` when it can't. */
export async function lockDevice(info: Stats, waitMs: number, busy: () => Error): Promise<DeviceLock | undefined> {
  const lock = await lockName(deviceLockName(info), waitMs);
  if (lock === 'busy') throw busy();
  return lock;
}
