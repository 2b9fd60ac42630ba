/**
 * One run per bitmap at a time. The lock is a file next to the bitmap's real path
 * (FILE.lock, after symlinks), created exclusively and holding "pid hostname". A lock
 * whose process is gone on this host (a run killed with -9) is stale and taken over.
 *
 * Taking over a stale file is a read-then-unlink, which two runs could do at once;
 * so runs on one host first take an abstract Unix socket named after the bitmap's
 * identity (released by the kernel when its process dies), and touch the file only
 * while they hold it. The identity is the file's device and inode, so two runs that
 * reach one bitmap through two names (a symlink, a hard link) exclude each other;
 * a bitmap not created yet is known by the real path it will be created at.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { unlinkSync } from 'node:fs';
import { link, lstat, open, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { lockName, type NamedLock } from '../device/device-lock.js';
import { BitmapError, systemErrorText } from '../errors.js';
import { quoteName } from '../report/quote.js';
import { fileIdentity, kindOf, OPEN_NONBLOCK, realTarget } from '../util/file-identity.js';

export interface BitmapLock {
  /** The lock file. */
  readonly path: string;
  /** The bitmap's real path (after symlinks): where it is read, created and written. */
  readonly target: string;
  /**
   * Also holds `identity` (the inode of a bitmap this run just created), so that a run
   * reaching the new file through another name waits for this one.
   */
  holdIdentity(identity: string): Promise<void>;
  release(): Promise<void>;
}

/** A lock file longer than this is not one basyn wrote ("pid hostname\n"). */
const LOCK_FILE_MAX = 512;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function hostLockName(identity: string): string {
  return `bitmap-${createHash('sha1').update(identity).digest('hex')}`;
}

export async function lockBitmap(bitmapPath: string): Promise<BitmapLock> {
  // Where the real path can't be found (a missing directory), the lock file's own
  // creation fails and says why.
  const target = await realTarget(bitmapPath).catch(() => resolve(bitmapPath));
  const path = `${target}.lock`;
  const identity = (await fileIdentity(target)) ?? `path ${target}`;
  const hostLocks: NamedLock[] = [];
  const releaseHostLocks = async (): Promise<void> => {
    for (const l of hostLocks.splice(0)) await l.release();
  };
  const takeHostLock = async (id: string): Promise<void> => {
    const hostLock = await lockName(hostLockName(id), 0);
    if (hostLock === 'busy') throw inUse(bitmapPath, path, await readHolder(path), false);
    if (hostLock !== undefined) hostLocks.push(hostLock);
  };
  try {
    await takeHostLock(identity);
    const fileLock = await lockFile(bitmapPath, path);
    let released = false;
    return {
      path,
      target,
      holdIdentity: (id: string) => (id === identity ? Promise.resolve() : takeHostLock(id)),
      release: async () => {
        if (released) return;
        released = true;
        await fileLock.release();
        await releaseHostLocks();
      },
    };
  } catch (error) {
    await releaseHostLocks();
    throw error;
  }
}

/** What the lock file says: a holder, an empty file, something else, or nothing. */
type Holder =
  | { kind: 'run'; pid: number; host: string }
  | { kind: 'empty' }
  | { kind: 'foreign'; what: string }
  | { kind: 'none' };

/**
 * Reads the lock file without ever blocking (a FIFO in its place would wait for a
 * writer forever) and without following a symlink.
 */
async function readHolder(path: string): Promise<Holder> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return { kind: 'none' };
  }
  if (!info.isFile()) return { kind: 'foreign', what: `it is ${kindOf(info)}` };
  if (info.size > LOCK_FILE_MAX) return { kind: 'foreign', what: `it is ${info.size} bytes long` };
  let text: string;
  try {
    const handle = await open(path, constants.O_RDONLY | OPEN_NONBLOCK | (constants.O_NOFOLLOW ?? 0));
    try {
      const opened = await handle.stat();
      if (!opened.isFile()) return { kind: 'foreign', what: `it is ${kindOf(opened)}` };
      const buffer = Buffer.alloc(LOCK_FILE_MAX + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'foreign', what: `it can't be read: ${systemErrorText(error)}` };
  }
  if (text.trim() === '') return { kind: 'empty' };
  const m = /^(\d+) (\S+)\n?$/.exec(text);
  if (m === null || Number(m[1]) <= 0 || !Number.isSafeInteger(Number(m[1]))) {
    return { kind: 'foreign', what: 'its content is not "pid hostname"' };
  }
  return { kind: 'run', pid: Number(m[1]), host: m[2]! };
}

/**
 * The refusal. Deleting the lock file is suggested only for a file in basyn's lock
 * format whose holder may be gone (`mayBeStale`); never for a file basyn did not write.
 */
function inUse(bitmapPath: string, path: string, holder: Holder, mayBeStale: boolean): BitmapError {
  const context = { device: bitmapPath, operation: 'lock' };
  if (holder.kind === 'foreign') {
    return new BitmapError(
      `cannot lock bitmap ${quoteName(bitmapPath)}: ${quoteName(path)} is not a basyn lock file (${holder.what}); ` +
        `basyn leaves it alone and needs that name for the bitmap's lock`,
      context,
    );
  }
  const who = holder.kind === 'run' ? `pid ${holder.pid} on ${holder.host}` : holder.kind === 'empty' ? 'unknown process' : undefined;
  if (who === undefined) {
    return new BitmapError(`bitmap ${quoteName(bitmapPath)} is in use by another basyn run on this host, which reached the same file through another name`, context);
  }
  const advice = mayBeStale ? `; if no such run exists, delete ${quoteName(path)}` : `, holding ${quoteName(path)}`;
  return new BitmapError(`bitmap ${quoteName(bitmapPath)} is in use by another basyn run (${who})${advice}`, context);
}

/**
 * Lock files this process holds. A run that quits with process.exit (a second signal,
 * or a first one whose clean stop did not come within its grace) never reaches its
 * release(): the exit hook removes them, so no lock outlives the run that made it.
 */
const heldLockFiles = new Set<string>();
let exitHookInstalled = false;

function removeHeldLockFilesOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const path of heldLockFiles) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone: nothing to clean.
      }
    }
  });
}

async function lockFile(bitmapPath: string, path: string): Promise<{ release(): Promise<void> }> {
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await createWithContent(path, me);
      removeHeldLockFilesOnExit();
      heldLockFiles.add(path);
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          heldLockFiles.delete(path);
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new BitmapError(`cannot lock bitmap ${quoteName(bitmapPath)}: ${systemErrorText(error)}`, { device: bitmapPath, operation: 'lock' });
      }
    }
    const holder = await readHolder(path);
    if (holder.kind === 'none') continue;
    const stale = holder.kind === 'run' && holder.host === hostname() && !alive(holder.pid);
    if (!stale) throw inUse(bitmapPath, path, holder, true);
    await unlink(path).catch(() => undefined);
  }
  throw new BitmapError(`cannot lock bitmap ${quoteName(bitmapPath)}: the lock file keeps reappearing`, { device: bitmapPath, operation: 'lock' });
}

/**
 * Creates `path` holding `content`, never opening (or truncating) a file already there,
 * and never leaving it empty: the content is written to a private file first and
 * hard-linked into place, which fails with EEXIST like an exclusive create. A run killed
 * between an exclusive create and its write left an empty lock, which no run can tell
 * from one being written on another host, so it was refused until deleted by hand.
 * Where hard links are not supported (FAT), the lock is created exclusively and written.
 */
async function createWithContent(path: string, content: string): Promise<void> {
  const temporary = `${path}.${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(temporary, content, { flag: 'wx', mode: 0o644 });
  } catch {
    return createExclusively(path, content);
  }
  try {
    await link(temporary, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return createExclusively(path, content);
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function createExclusively(path: string, content: string): Promise<void> {
  const f = await open(path, 'wx', 0o644);
  try {
    await f.writeFile(content);
  } finally {
    await f.close();
  }
}
