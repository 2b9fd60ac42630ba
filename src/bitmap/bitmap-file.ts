/**
 * An open, locked, validated bitmap file. Entries are read and written in place by
 * position; nothing is held in memory beyond the pages the caller asks for, so a
 * bitmap of a multi-terabyte device costs no more RAM than a small one.
 */
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BitmapError, systemErrorText } from '../errors.js';
import { quoteName } from '../report/quote.js';
import type { HashAlgorithm } from '../hash/hash-algorithms.js';
import { BITMAP_HEADER_SIZE, encodeHeader, entryCount, expectedFileSize, validateBitmap } from './bitmap-format.js';
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
   * when it does not exist or when `reset` is set. Validation failures leave the
   * file untouched.
   */
  static async open(path: string, expect: BitmapExpectation, options: { reset: boolean; readOnly?: boolean }): Promise<BitmapFile> {
    if (options.readOnly === true) return BitmapFile.openReadOnly(path, expect);
    const lock = await lockBitmap(path);
    try {
      const fail = (what: string, error: unknown): never => {
        throw new BitmapError(`bitmap ${quoteName(path)}: ${what}: ${systemErrorText(error)}`, { device: path, operation: what });
      };
      let exists = true;
      try {
        const info = await stat(path);
        if (!info.isFile()) throw new BitmapError(`bitmap ${quoteName(path)} is not a regular file`, { device: path, operation: 'open' });
      } catch (error) {
        if (error instanceof BitmapError) throw error;
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') fail('cannot open', error);
        exists = false;
      }
      if (!exists || options.reset) {
        // Built under a temporary name and renamed into place: a crash leaves either
        // the old bitmap or the complete new one, never a half-written file.
        const temporary = `${path}.new-${process.pid}`;
        const handle = await open(temporary, 'w+', 0o644).catch((e: unknown) => fail('cannot create', e));
        try {
          await writeFresh(handle, expect);
          await rename(temporary, path);
        } catch (error) {
          await handle.close().catch(() => undefined);
          await unlink(temporary).catch(() => undefined);
          fail('cannot write', error);
        }
        await syncDirectory(dirname(path));
        return new BitmapFile(path, handle, lock, expect.blockSize, expect.deviceSize, expect.hash, true);
      }
      const handle = await open(path, 'r+').catch((e: unknown) => fail('cannot open', e));
      await validateOpened(handle, path, expect);
      return new BitmapFile(path, handle, lock, expect.blockSize, expect.deviceSize, expect.hash, false);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** For --dry-run: validated like any run, never written, never created, not locked. */
  private static async openReadOnly(path: string, expect: BitmapExpectation): Promise<BitmapFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return new BitmapFile(path, undefined, undefined, expect.blockSize, expect.deviceSize, expect.hash, true);
      }
      throw new BitmapError(`bitmap ${quoteName(path)}: cannot open: ${systemErrorText(error)}`, { device: path, operation: 'open' });
    }
    await validateOpened(handle, path, expect);
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

/** Reads the header and checks it and the file's length; closes the file if they are wrong. */
async function validateOpened(handle: FileHandle, path: string, expect: BitmapExpectation): Promise<void> {
  try {
    const head = Buffer.alloc(BITMAP_HEADER_SIZE);
    const { bytesRead } = await handle.read(head, 0, BITMAP_HEADER_SIZE, 0);
    const { size } = await handle.stat();
    validateBitmap(path, head.subarray(0, bytesRead), size, {
      deviceSize: expect.deviceSize, blockSize: expect.blockSize, hashId: expect.hash.id, hash: expect.hash,
    });
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/** Writes the header and N unknown (zero) entries into a new, empty file. */
async function writeFresh(handle: FileHandle, expect: BitmapExpectation): Promise<void> {
  const size = expectedFileSize(expect.deviceSize, expect.blockSize, expect.hash.digestLength);
  await handle.truncate(size);
  const header = encodeHeader({ deviceSize: expect.deviceSize, blockSize: expect.blockSize, hashId: expect.hash.id });
  await handle.write(header, 0, header.length, 0);
  await handle.sync();
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
