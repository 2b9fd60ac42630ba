/**
 * An open, locked, validated bitmap file. Entries are read and written in place by
 * position; nothing is held in memory beyond the pages the caller asks for, so a
 * bitmap of a multi-terabyte device costs no more RAM than a small one.
 */
import { constants, type Stats } from 'node:fs';
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BitmapError, systemErrorText } from '../errors.js';
import { quoteName } from '../report/quote.js';
import type { HashAlgorithm } from '../hash/hash-algorithms.js';
import { identityOf, kindOf, OPEN_NONBLOCK } from '../util/file-identity.js';
import { BITMAP_HEADER_SIZE, checkMagic, encodeHeader, entryCount, expectedFileSize, validateBitmap } from './bitmap-format.js';
import { lockBitmap, type BitmapLock } from './bitmap-lock.js';

export interface BitmapExpectation {
  deviceSize: number;
  blockSize: number;
  hash: HashAlgorithm;
}

export class BitmapFile {
  readonly entries: number;
  readonly digestLength: number;
  private closed = false;

  private constructor(
    readonly path: string,
    /** Undefined for a bitmap that does not exist yet, seen by a dry run: all unknown. */
    private readonly handle: FileHandle | undefined,
    private readonly lock: BitmapLock | undefined,
    readonly blockSize: number,
    readonly deviceSize: number,
    hash: HashAlgorithm,
    /** True when this run created (or reset) the file: every entry is unknown. */
    readonly fresh: boolean,
  ) {
    this.entries = entryCount(deviceSize, blockSize);
    this.digestLength = hash.digestLength;
  }

  /**
   * Locks, then opens and validates the bitmap, creating it (every entry unknown)
   * when it does not exist or is empty, or starting it afresh when `reset` is set.
   * Validation failures leave the file untouched, and so does `reset` for a file that
   * is not a bitmap. A symlink is followed: the file it points to is the bitmap.
   */
  static async open(path: string, expect: BitmapExpectation, options: { reset: boolean; readOnly?: boolean }): Promise<BitmapFile> {
    if (options.readOnly === true) return BitmapFile.openReadOnly(path, expect);
    // Before the lock: no FILE.lock is made beside a FIFO or in /dev.
    await isRegularOrMissing(path);
    const lock = await lockBitmap(path);
    try {
      const { handle, created } = await openOrCreate(path, lock.target);
      const cannot = (what: string) => (e: unknown): never => {
        throw new BitmapError(`bitmap ${quoteName(path)}: cannot ${what}: ${systemErrorText(e)}`, { device: path, operation: what });
      };
      let info: Stats | undefined;
      try {
        info = await handle.stat().catch(cannot('read'));
        // A file this run created is a new inode: a run through another name of it
        // (a hard link made meanwhile) must find it locked too.
        if (created) await lock.holdIdentity(identityOf(info));
        const head = await readHead(handle).catch(cannot('read'));
        // A file with no entries (empty, or a bitmap header alone, as a crash while one
        // was being created leaves it) holds nothing to lose: it is started afresh.
        const fresh = created || info.size <= BITMAP_HEADER_SIZE || options.reset;
        if (fresh) {
          if (info.size > 0) checkMagic(path, head, info.size);
          await startAfresh(handle, head.length, expect).catch(cannot('write'));
          if (created) await syncDirectory(dirname(lock.target));
        } else {
          validateBitmap(path, head, info.size, { deviceSize: expect.deviceSize, blockSize: expect.blockSize, hashId: expect.hash.id, hash: expect.hash });
        }
        return new BitmapFile(path, handle, lock, expect.blockSize, expect.deviceSize, expect.hash, fresh);
      } catch (error) {
        await handle.close().catch(() => undefined);
        if (created && info !== undefined) await removeIfStill(lock.target, info);
        throw error;
      }
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** For --dry-run: validated like any run, never written, never created, not locked. */
  private static async openReadOnly(path: string, expect: BitmapExpectation): Promise<BitmapFile> {
    const handle = await openRegular(path, constants.O_RDONLY);
    const unknown = (): BitmapFile => new BitmapFile(path, undefined, undefined, expect.blockSize, expect.deviceSize, expect.hash, true);
    if (handle === undefined) return unknown();
    try {
      const { size } = await handle.stat();
      const head = await readHead(handle);
      if (size > 0 && size <= BITMAP_HEADER_SIZE) checkMagic(path, head, size);
      if (size <= BITMAP_HEADER_SIZE) {
        // No entries: a real run would start it afresh, every entry unknown.
        await handle.close();
        return unknown();
      }
      validateBitmap(path, head, size, {
        deviceSize: expect.deviceSize, blockSize: expect.blockSize, hashId: expect.hash.id, hash: expect.hash,
      });
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    return new BitmapFile(path, handle, undefined, expect.blockSize, expect.deviceSize, expect.hash, false);
  }

  private fail(operation: string, error: unknown): BitmapError {
    return new BitmapError(`bitmap ${quoteName(this.path)}: ${operation} failed: ${systemErrorText(error)}`, { device: this.path, operation });
  }

  /** Reads `count` entries from entry `first` (one buffer, entries back to back). */
  async read(first: number, count: number): Promise<Buffer> {
    const n = Math.max(0, Math.min(count, this.entries - first));
    const buffer = Buffer.alloc(n * this.digestLength);
    const handle = this.handle;
    if (handle === undefined) return buffer;
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await handle
        .read(buffer, done, buffer.length - done, BITMAP_HEADER_SIZE + first * this.digestLength + done)
        .catch((e: unknown) => Promise.reject(this.fail('read', e)));
      if (bytesRead === 0) throw new BitmapError(`bitmap ${quoteName(this.path)} is shorter than its header says`, { device: this.path });
      done += bytesRead;
    }
    return buffer;
  }

  /** Writes consecutive entries starting at entry `first`. */
  async write(first: number, digests: Buffer): Promise<void> {
    if (first < 0 || first * this.digestLength + digests.length > this.entries * this.digestLength) {
      throw new BitmapError(`bitmap ${quoteName(this.path)}: entry ${first} is out of range`, { device: this.path });
    }
    const handle = this.writableHandle();
    let done = 0;
    while (done < digests.length) {
      const { bytesWritten } = await handle
        .write(digests, done, digests.length - done, BITMAP_HEADER_SIZE + first * this.digestLength + done)
        .catch((e: unknown) => Promise.reject(this.fail('write', e)));
      done += bytesWritten;
    }
  }

  private writableHandle(): FileHandle {
    if (this.handle === undefined || this.lock === undefined) {
      throw new BitmapError(`bitmap ${quoteName(this.path)} was opened read-only`, { device: this.path });
    }
    return this.handle;
  }

  /** Makes every earlier write durable. */
  async sync(): Promise<void> {
    await this.writableHandle().datasync().catch((e: unknown) => Promise.reject(this.fail('fsync', e)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle?.close().catch(() => undefined);
    await this.lock?.release();
  }
}

/**
 * Opens the regular file `path` (found at `at`, its real path, when given) for reading
 * (and writing), or resolves undefined when it does not exist. Never blocks and never takes anything but a regular file: the kind
 * is checked by stat before the open (a device is not even opened) and again on the
 * opened descriptor (the path may have been swapped in between); O_NONBLOCK keeps the
 * open of a FIFO from waiting for a writer, and does nothing to a regular file's I/O.
 */
async function openRegular(path: string, flags: number, at = path): Promise<FileHandle | undefined> {
  const fail = (what: string, error?: unknown): never => {
    throw new BitmapError(`bitmap ${quoteName(path)}: ${what}${error !== undefined ? `: ${systemErrorText(error)}` : ''}`, { device: path, operation: 'open' });
  };
  const refuse = (info: Stats): never => {
    throw notRegular(path, info);
  };
  if (!(await isRegularOrMissing(path, at))) return undefined;
  let handle: FileHandle;
  try {
    handle = await open(at, flags | OPEN_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    const info = code === 'EISDIR' || code === 'ENXIO' ? await stat(at).catch(() => undefined) : undefined;
    if (info !== undefined && !info.isFile()) refuse(info);
    return fail('cannot open', error);
  }
  const opened = await handle.stat().catch(async (error: unknown) => {
    await handle.close().catch(() => undefined);
    return fail('cannot open', error);
  });
  if (!opened.isFile()) {
    await handle.close().catch(() => undefined);
    refuse(opened);
  }
  return handle;
}

function notRegular(path: string, info: Stats): BitmapError {
  return new BitmapError(`bitmap ${quoteName(path)} is ${kindOf(info)}, not a regular file; -b must name a bitmap file`, { device: path, operation: 'open' });
}

/**
 * True for a regular file, false for a missing one; throws for any other kind (found
 * by stat, so that a device is not even opened) or when stat fails.
 */
async function isRegularOrMissing(path: string, at = path): Promise<boolean> {
  let info: Stats;
  try {
    info = await stat(at);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new BitmapError(`bitmap ${quoteName(path)}: cannot open: ${systemErrorText(error)}`, { device: path, operation: 'open' });
  }
  if (!info.isFile()) throw notRegular(path, info);
  return true;
}

/**
 * Opens the bitmap at its real path `target` for writing, creating it there when it
 * does not exist. The create is exclusive: it never opens a file that appeared since.
 */
async function openOrCreate(path: string, target: string): Promise<{ handle: FileHandle; created: boolean }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await openRegular(path, constants.O_RDWR, target);
    if (existing !== undefined) return { handle: existing, created: false };
    try {
      const handle = await open(target, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | OPEN_NONBLOCK, 0o644);
      return { handle, created: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new BitmapError(`bitmap ${quoteName(path)}: cannot create: ${systemErrorText(error)}`, { device: path, operation: 'create' });
    }
  }
  throw new BitmapError(`bitmap ${quoteName(path)}: cannot create: a file keeps appearing and disappearing there`, { device: path, operation: 'create' });
}

/** The first bytes of the file, up to a header's length. */
async function readHead(handle: FileHandle): Promise<Buffer> {
  const head = Buffer.alloc(BITMAP_HEADER_SIZE);
  const { bytesRead } = await handle.read(head, 0, BITMAP_HEADER_SIZE, 0);
  return head.subarray(0, bytesRead);
}

/**
 * Turns an empty file or a bitmap into a new bitmap with every entry unknown, in
 * place (through every name of the file; the checked descriptor is the one written).
 * The order keeps a crash safe at every step, each step durable before the next: the
 * old entries go first (the file is cut back to at most the header, which keeps the
 * magic number), then the new header is written, then the file is extended with
 * zeros. A crash leaves an empty file or a header alone, both started afresh by the
 * next run, or the new bitmap; never old entries under a new header, nor zeros
 * without the magic number.
 */
async function startAfresh(handle: FileHandle, headLength: number, expect: BitmapExpectation): Promise<void> {
  const { size } = await handle.stat();
  if (size > headLength) {
    await handle.truncate(headLength);
    await handle.datasync();
  }
  const header = encodeHeader({ deviceSize: expect.deviceSize, blockSize: expect.blockSize, hashId: expect.hash.id });
  await handle.write(header, 0, header.length, 0);
  await handle.datasync();
  await handle.truncate(expectedFileSize(expect.deviceSize, expect.blockSize, expect.hash.digestLength));
  await handle.sync();
}

/** Removes the file this run created at `path` when it failed to make a bitmap of it (and only that file). */
async function removeIfStill(path: string, created: Stats): Promise<void> {
  const now = await stat(path).catch(() => undefined);
  if (now !== undefined && identityOf(now) === identityOf(created)) await unlink(path).catch(() => undefined);
}

async function syncDirectory(path: string): Promise<void> {
  try {
    const dir = await open(path, 'r');
    await dir.sync().catch(() => undefined);
    await dir.close();
  } catch {
    // Some file systems can't open or fsync a directory; the file itself is synced.
  }
}
