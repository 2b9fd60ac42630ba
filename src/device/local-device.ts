/**
 * A file or block device on this machine. The engine uses it directly for the
 * local side, and the agent serves one to the other end of the protocol.
 */
import { constants } from 'node:fs';
import { open, readlink, stat, truncate, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { homedir } from 'node:os';
import { DeviceError, describeContext, systemErrorText, type ErrorContext } from '../errors.js';
import { quoteName } from '../report/quote.js';
import { RangeReadFailure } from '../hash/range-jobs.js';
import { RangeLanes, THREADS_FROM_BYTES } from '../hash/range-lanes.js';
import { usableCpus } from '../util/node-features.js';
import { isAllZero } from '../protocol/block-codec.js';
import { loadIncrementalDigest, type DigestFunction, type HashAlgorithm } from '../hash/hash-algorithms.js';
import { BoundedWindow } from '../util/bounded-window.js';
import { SlabPool } from '../util/slab-pool.js';
import { kindOf, OPEN_NONBLOCK } from '../util/file-identity.js';
import { lockDevice, type DeviceLock } from './device-lock.js';
import { blockDeviceSize } from './device-size.js';
import { PIECE_BYTES } from './pieces.js';
import type { Block, BlockDigest, BlockOptions, Device, DeviceStatus, DigestOptions, Side, WriteOptions } from './device.js';

/** Reads are issued in units of about this many bytes, whatever the block size. */
const READ_UNIT = PIECE_BYTES;
/** Reads kept in flight ahead of the consumer (fewer when blocks make units bigger than READ_UNIT). */
const READ_AHEAD = 3;
/** Queued writes before write() waits: bytes, and writes (each one is a system call in flight). */
const WRITE_WINDOW = { bytes: 16 * 1024 * 1024, items: 256 };
/** A zero block for a regular file is first read back in pieces of this size... */
const ZERO_PROBE_PIECE = 256 * 1024;
/** ...after a first one of this size, which is all a range holding data costs. */
const ZERO_PROBE_FIRST = 4096;
/** How long opening for writing waits for another writer of the device to finish. */
const WRITER_WAIT_MS = 10_000;

export interface LocalDeviceOptions {
  writable: boolean;
  hash: HashAlgorithm;
  /** The loaded digest function of `hash` (hash-algorithms.ts loadDigest). */
  digest: DigestFunction;
  side?: Side;
  /** Overrides the label used in messages. */
  label?: string;
  /**
   * --create: a regular file that is missing is created with this size, one that is
   * smaller is extended (sparse). Refused for block devices.
   */
  createSize?: number;
}

export class LocalDevice implements Device {
  readonly side: Side;
  readonly label: string;
  readonly inProcess = true;
  private readonly writes = new BoundedWindow(WRITE_WINDOW);
  /** Copies of borrowed blocks queued for writing. */
  private readonly copies = new SlabPool(READ_UNIT);
  private readonly probeScratch: Buffer[] = [];
  private bytesRead = 0;
  private bytesWritten = 0;
  /** Bytes of zero blocks not written because the file already read zeros there. */
  private bytesSkipped = 0;
  /** From this offset on the file was just created or extended: it reads zeros. */
  private freshFrom = Number.MAX_SAFE_INTEGER;
  /** Held while the device is open for writing: one writer per device on this host. */
  private lock: DeviceLock | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly size: number,
    readonly isBlockDevice: boolean,
    private readonly writable: boolean,
    private readonly digest: DigestFunction,
    private readonly hash: HashAlgorithm,
    side: Side,
    label: string,
  ) {
    this.side = side;
    this.label = label;
  }

  static async open(named: string, options: LocalDeviceOptions): Promise<LocalDevice> {
    const side = options.side ?? 'local';
    // The remote path never met a shell: its ~ is expanded here, where it is opened.
    const path = side === 'remote' ? expandHome(named) : named;
    const label = options.label ?? `${side} device ${quoteName(named)}${path !== named ? ` (${quoteName(path)})` : ''}`;
    const context: ErrorContext = { side, device: named, operation: 'open' };
    const fail = (why: string, cause?: unknown): never => {
      throw new DeviceError(`cannot open ${label}: ${why}`, context, { cause });
    };
    if (path === '') fail('empty path');
    if (/^~[^/]/.test(path)) fail('~user is not expanded (only ~ and ~/ are); give the full path');
    // stat before open: opening a FIFO would block until a writer appears.
    let info;
    let freshFrom = Number.MAX_SAFE_INTEGER;
    try {
      info = await stat(path);
    } catch (error) {
      if (options.createSize === undefined || (error as NodeJS.ErrnoException).code !== 'ENOENT') {
        return fail(systemErrorText(error), error);
      }
      const target = await danglingLinkTarget(path);
      const named = target === path ? 'it' : `the symlink's target ${target}`;
      await createImage(target, options.createSize).catch((e: unknown) => fail(`cannot create ${named}: ${systemErrorText(e)}`, e));
      info = await stat(path);
      freshFrom = 0;
    }
    if (options.createSize !== undefined && info.isBlockDevice()) {
      fail('--create applies to image files, and this is a block device');
    }
    if (options.createSize !== undefined && info.isFile() && info.size < options.createSize) {
      // Extended bytes read as zeros: zero blocks need not be written there.
      freshFrom = Math.min(freshFrom, info.size);
      await truncate(path, options.createSize).catch((e: unknown) => fail(`cannot extend it: ${systemErrorText(e)}`, e));
    }
    if (info.isDirectory()) fail('it is a directory');
    if (!info.isFile() && !info.isBlockDevice()) fail('it is neither a regular file nor a block device');
    const busy = (): DeviceError => new DeviceError(
      `${label} is being written by another basyn run (or by the agent of a run that just died, still finishing its writes); try again later`,
      { ...context, operation: 'lock' },
    );
    // A block device is written only when nothing else holds it: O_EXCL (without O_CREAT)
    // fails with EBUSY while it is mounted or claimed (another O_EXCL opener, device-mapper,
    // md). Another basyn writer is waited for first (the lock), so that it is not taken
    // for another program. Reading is left alone: a mounted device is a fair source.
    const exclusive = options.writable && info.isBlockDevice();
    const earlyLock = exclusive ? await lockDevice(info, WRITER_WAIT_MS, busy) : undefined;
    let handle: FileHandle;
    try {
      // Non-blocking, and the kind checked again on the descriptor: a path swapped for a
      // FIFO after the stat must not hang the open. Regular files and block devices
      // ignore O_NONBLOCK for their reads and writes.
      const access = exclusive ? constants.O_RDWR | constants.O_EXCL : options.writable ? constants.O_RDWR : constants.O_RDONLY;
      handle = await open(path, access | OPEN_NONBLOCK);
    } catch (error) {
      await earlyLock?.release();
      if (exclusive && (error as NodeJS.ErrnoException).code === 'EBUSY') {
        throw new DeviceError(`${label} is mounted or in use by another program (EBUSY); basyn refuses to write to it`, context, { cause: error });
      }
      return fail(systemErrorText(error), error);
    }
    try {
      const opened = await handle.stat();
      if (!opened.isFile() && !opened.isBlockDevice()) fail(`it is ${kindOf(opened)}, neither a regular file nor a block device`);
      let size = opened.size;
      if (opened.isBlockDevice()) {
        try {
          size = await blockDeviceSize(opened.rdev);
        } catch (error) {
          fail(`cannot read the block device size from sysfs: ${systemErrorText(error)}`, error);
        }
      }
      const device = new LocalDevice(path, handle, size, opened.isBlockDevice(), options.writable, options.digest, options.hash, side, label);
      device.freshFrom = freshFrom;
      if (exclusive && opened.rdev !== info.rdev) fail('the path named another device while it was being opened; run again');
      if (options.writable) device.lock = earlyLock ?? (await lockDevice(opened, WRITER_WAIT_MS, busy));
      return device;
    } catch (error) {
      await handle.close().catch(() => undefined);
      await earlyLock?.release();
      throw error;
    }
  }

  private error(operation: string, offset: number | undefined, why: string, cause?: unknown): DeviceError {
    const context: ErrorContext = { side: this.side, device: this.path, operation, offset };
    return new DeviceError(`${why}${describeContext(context)}`, context, { cause });
  }

  private checkRange(operation: string, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw this.error(operation, offset, `range of ${length} bytes is outside the device's ${this.size} bytes`);
    }
  }

  /** Reads exactly `length` bytes at `offset` into a new buffer. */
  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    this.checkRange('read', offset, length);
    return this.readInto(into !== undefined && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length), offset);
  }

  /** Fills `buffer` from `offset`; a short read is an error (the device shrank). */
  private async readInto(buffer: Buffer, offset: number): Promise<Buffer> {
    const length = buffer.length;
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.handle.read(buffer, done, length - done, offset + done));
      } catch (error) {
        throw this.error('read', offset + done, `read failed: ${systemErrorText(error)}`, error);
      }
      if (n === 0) {
        throw this.error('read', offset + done, 'unexpected end of data (did the device shrink?)');
      }
      done += n;
    }
    this.bytesRead += length;
    return buffer;
  }

  /**
   * Yields consecutive units of about READ_UNIT bytes, aligned to blockSize, with
   * reads in flight ahead of the consumer. With `reuse`, a unit's buffer is recycled
   * once the consumer asks for the next one: no fresh memory (and page faults) per
   * unit, which roughly triples read throughput from the page cache. With `pieceBytes`
   * below the block size, a block is yielded in pieces of that size instead (a piece
   * never spans two blocks).
   */
  private async *units(start: number, end: number, blockSize: number, reuse: boolean, signal?: AbortSignal, pieceBytes?: number): AsyncGenerator<Block> {
    this.checkRange('read', start, end - start);
    const piece = pieceBytes !== undefined && pieceBytes >= 1 && pieceBytes < blockSize ? pieceBytes : undefined;
    const unit = piece ?? blockSize * Math.max(1, Math.floor(READ_UNIT / blockSize));
    const lengthAt = (at: number): number =>
      piece === undefined ? Math.min(unit, end - at) : Math.min(piece, end - at, blockSize - ((at - start) % blockSize));
    // No unit is longer than the range: a huge block size over a small range (or a
    // hostile DIGEST_STREAM) must not allocate the whole block size.
    const bufferSize = Math.min(unit, end - start);
    const ahead = readsAhead(unit, READ_AHEAD);
    const free: Buffer[] = [];
    const pending: { full: Buffer; read: Promise<Buffer> }[] = [];
    let next = start;
    const issue = (want: number): void => {
      while (pending.length < want && next < end) {
        const length = lengthAt(next);
        const full = reuse ? (free.pop() ?? Buffer.allocUnsafe(bufferSize)) : Buffer.allocUnsafe(length);
        const read = this.readInto(full.subarray(0, length), next);
        read.catch(() => undefined); // observed when awaited below
        pending.push({ full, read });
        next += length;
      }
    };
    let offset = start;
    issue(Math.max(1, ahead));
    while (pending.length > 0) {
      signal?.throwIfAborted();
      const { full, read } = pending.shift()!;
      const data = await read;
      issue(ahead);
      yield { offset, data };
      offset += data.length;
      if (reuse) free.push(full);
      // Units too big to read ahead (see readsAhead) are read once the last is let go.
      if (pending.length === 0) issue(1);
    }
  }

  async *blocks(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: BlockOptions): AsyncGenerator<Block> {
    for await (const unit of this.units(start, end, blockSize, options?.reuseBuffers === true, signal, options?.pieceBytes)) {
      for (let at = 0; at < unit.data.length; at += blockSize) {
        yield { offset: unit.offset + at, data: unit.data.subarray(at, Math.min(at + blockSize, unit.data.length)) };
      }
    }
  }

  /** Block digests; each `data` is valid only until the next block is asked for (buffers are reused). */
  async *digests(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: DigestOptions): AsyncGenerator<BlockDigest> {
    const threads = Math.min(options?.threads ?? 1, usableCpus());
    // A short range is over before a thread would be up: read here, and keep the data.
    if (threads > 1 && end - start >= THREADS_FROM_BYTES) {
      yield* this.parallelDigests(start, end, blockSize, threads, signal);
      return;
    }
    if (blockSize > READ_UNIT) {
      yield* this.piecewiseDigests(start, end, blockSize, signal);
      return;
    }
    for await (const unit of this.units(start, end, blockSize, true, signal)) {
      for (let at = 0; at < unit.data.length; at += blockSize) {
        const data = unit.data.subarray(at, Math.min(at + blockSize, unit.data.length));
        yield { offset: unit.offset + at, length: data.length, digest: this.digest(data), data };
      }
    }
  }

  /**
   * Digests of blocks longer than a read unit, hashed a piece at a time as the pieces
   * are read (with read-ahead): no block is held whole, however long. They carry no
   * data: a differing one is read again, in pieces, to be moved.
   */
  private async *piecewiseDigests(start: number, end: number, blockSize: number, signal?: AbortSignal): AsyncGenerator<BlockDigest> {
    const hasher = await loadIncrementalDigest(this.hash);
    let blockStart = start;
    hasher.init();
    for await (const piece of this.units(start, end, blockSize, true, signal, READ_UNIT)) {
      hasher.update(piece.data);
      const reached = piece.offset + piece.data.length;
      if (reached === end || reached - blockStart === blockSize) {
        yield { offset: blockStart, length: reached - blockStart, digest: hasher.digest() };
        hasher.init();
        blockStart = reached;
      }
    }
  }

  /**
   * The same stream read and hashed on `threads` threads, this one included, each
   * reading its own ranges from this device's descriptor into a buffer of its own and
   * giving back only the digests (hash/range-lanes.ts). The digests carry no data: a
   * differing block is read again to be moved (it is rare, and in the page cache by then).
   */
  private async *parallelDigests(start: number, end: number, blockSize: number, threads: number, signal?: AbortSignal): AsyncGenerator<BlockDigest> {
    this.checkRange('read', start, end - start);
    const lanes = new RangeLanes(this.hash, threads, end - start);
    const digestLength = this.hash.digestLength;
    try {
      const jobs = rangeJobs(start, end, blockSize, lanes.jobsInFlight, signal, (offset, length) =>
        lanes.run({ kind: 'digest', fd: this.handle.fd, offset, length, blockSize }));
      for await (const job of jobs) {
        const digests = await job.result.catch((error: unknown) => {
          throw this.readFailure(error);
        });
        this.bytesRead += job.length;
        for (let at = 0, i = 0; at < job.length; at += blockSize, i++) {
          yield { offset: job.offset + at, length: Math.min(blockSize, job.length - at), digest: digests.subarray(i * digestLength, (i + 1) * digestLength) };
        }
      }
    } finally {
      await lanes.close();
    }
  }

  /**
   * Pairs of the same blocks of this device and `other` (both on this machine), read and
   * compared byte for byte on `threads` threads as parallelDigests hashes: the pair's
   * digests are markers, equal only when the blocks are. No data comes back: a differing
   * block is read again to be moved.
   */
  async *comparedWith(other: LocalDevice, end: number, blockSize: number, threads: number, signal?: AbortSignal): AsyncGenerator<[BlockDigest, BlockDigest]> {
    this.checkRange('read', 0, end);
    other.checkRange('read', 0, end);
    const lanes = new RangeLanes(this.hash, threads, 2 * end);
    try {
      const jobs = rangeJobs(0, end, blockSize, lanes.jobsInFlight, signal, (offset, length) =>
        lanes.run({ kind: 'compare', fd: this.handle.fd, otherFd: other.handle.fd, offset, length, blockSize }));
      for await (const job of jobs) {
        const differing = await job.result.catch((error: unknown) => {
          throw error instanceof RangeReadFailure && error.fd === other.handle.fd ? other.readFailure(error) : this.readFailure(error);
        });
        this.bytesRead += job.length;
        other.bytesRead += job.length;
        for (let at = 0, i = 0; at < job.length; at += blockSize, i++) {
          const block = { offset: job.offset + at, length: Math.min(blockSize, job.length - at) };
          yield [{ ...block, digest: SAME }, { ...block, digest: differing[i] === 1 ? DIFFERENT : SAME }];
        }
      }
    } finally {
      await lanes.close();
    }
  }

  /** A thread's failed read as this device's error. */
  private readFailure(error: unknown): unknown {
    if (!(error instanceof RangeReadFailure)) return error;
    if (error.code === undefined) return this.error('read', error.offset, error.message);
    const cause = Object.assign(new Error(error.message), { code: error.code });
    return this.error('read', error.offset, `read failed: ${systemErrorText(cause)}`, cause);
  }

  /**
   * Reads a few chunks at a time, not the whole block (which may be 64 MiB or more); a
   * chunk longer than a read unit is hashed a piece at a time.
   */
  async chunkDigests(offset: number, length: number, chunkSize: number): Promise<Buffer[]> {
    this.checkRange('read', offset, length);
    const out: Buffer[] = [];
    if (chunkSize > READ_UNIT) {
      const hasher = await loadIncrementalDigest(this.hash);
      const buffer = Buffer.allocUnsafe(Math.min(READ_UNIT, length));
      for (let chunk = 0; chunk < length; chunk += chunkSize) {
        const chunkLength = Math.min(chunkSize, length - chunk);
        hasher.init();
        for (let at = 0; at < chunkLength; at += READ_UNIT) {
          hasher.update(await this.readInto(buffer.subarray(0, Math.min(READ_UNIT, chunkLength - at)), offset + chunk + at));
        }
        out.push(hasher.digest());
      }
      return out;
    }
    const step = chunkSize * Math.floor(READ_UNIT / chunkSize);
    const buffer = Buffer.allocUnsafe(Math.min(step, length));
    for (let at = 0; at < length; at += step) {
      const data = await this.readInto(buffer.subarray(0, Math.min(step, length - at)), offset + at);
      out.push(...chunkDigestsOf(data, chunkSize, this.digest));
    }
    return out;
  }

  async write(offset: number, given: Buffer, options?: WriteOptions): Promise<void> {
    if (!this.writable) throw this.error('write', offset, 'device was opened read-only');
    this.checkRange('write', offset, given.length);
    const zero = !this.isBlockDevice && isAllZero(given);
    const written = options?.written;
    if (zero && offset >= this.freshFrom) {
      this.bytesSkipped += given.length;
      written?.();
      return;
    }
    // A borrowed buffer is reused once this returns: the queued write keeps a copy.
    const copy = options?.borrowed === true ? this.copies.copy(given) : undefined;
    const data = copy?.buffer ?? given;
    try {
      await this.writes.add(data.length, async () => {
        try {
          await this.checkNotShrunk();
          if (zero && (await this.readsZeros(offset, data.length))) {
            this.bytesSkipped += data.length;
            return;
          }
          let done = 0;
          while (done < data.length) {
            try {
              const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
              done += bytesWritten;
            } catch (error) {
              throw this.error('write', offset + done, `write failed: ${systemErrorText(error)}`, error);
            }
          }
          this.bytesWritten += data.length;
        } finally {
          copy?.release();
          written?.();
        }
      });
    } catch (error) {
      // never queued (an earlier write failed)
      copy?.release();
      written?.();
      throw error;
    }
  }

  /**
   * Whether the file already reads zeros over [offset, offset + length). Writing zeros
   * there would only allocate a sparse file's holes (reading a hole costs no disk I/O);
   * skipping the write keeps what the file holds, so the block is durably there once
   * flush() has synced the file. The first 4 KiB decide for a range that holds data,
   * so a zero block over data costs one small read besides its write.
   */
  private async readsZeros(offset: number, length: number): Promise<boolean> {
    // Scratch memory reused from probe to probe (one per probe in flight).
    const size = Math.min(length, ZERO_PROBE_PIECE);
    let piece = this.probeScratch.pop();
    if (piece === undefined || piece.length !== size) piece = Buffer.allocUnsafe(size);
    try {
      return await this.probe(piece, offset, length);
    } finally {
      this.probeScratch.push(piece);
    }
  }

  private async probe(piece: Buffer, offset: number, length: number): Promise<boolean> {
    let done = 0;
    while (done < length) {
      const want = done === 0 ? Math.min(length, ZERO_PROBE_FIRST) : Math.min(length - done, piece.length);
      let n: number;
      try {
        ({ bytesRead: n } = await this.handle.read(piece, 0, want, offset + done));
      } catch (error) {
        throw this.error('read', offset + done, `read failed: ${systemErrorText(error)}`, error);
      }
      this.bytesRead += n;
      if (n === 0 || !isAllZero(piece.subarray(0, n))) return false;
      done += n;
    }
    return true;
  }

  /**
   * A regular file cut short while it is written would grow back as later blocks land,
   * with a hole of zeros where it was cut, and look whole at the end: so each write
   * first checks it has not shrunk (an fstat, a microsecond or two against the
   * write's own cost).
   */
  private async checkNotShrunk(): Promise<void> {
    if (this.isBlockDevice) return;
    let now: number;
    try {
      now = (await this.handle.stat()).size;
    } catch {
      return; // status() at the end reports a device that can't be examined
    }
    if (now < this.size) {
      throw new DeviceError(`${this.label} shrank during the run, from ${this.size} to ${now} bytes; run again`, {
        side: this.side, device: this.path, operation: 'size check',
      });
    }
  }

  async flush(): Promise<void> {
    await this.writes.drain();
    if (!this.writable) return;
    try {
      await this.handle.sync();
    } catch (error) {
      throw this.error('flush', undefined, `fsync failed: ${systemErrorText(error)}`, error);
    }
  }

  async status(): Promise<DeviceStatus> {
    let info;
    try {
      info = await this.handle.stat();
    } catch (error) {
      throw this.error('stat', undefined, `cannot read the size: ${systemErrorText(error)}`, error);
    }
    // The open handle outlives its path: a device deleted or replaced during the run
    // took (or gave) its blocks elsewhere, whatever the handle's size says.
    let now;
    try {
      now = await stat(this.path);
    } catch (error) {
      throw new DeviceError(`${this.label} disappeared during the run (${systemErrorText(error)}); run again`, {
        side: this.side, device: this.path, operation: 'size check',
      }, { cause: error });
    }
    const same = info.isBlockDevice() ? now.isBlockDevice() && now.rdev === info.rdev : now.dev === info.dev && now.ino === info.ino;
    if (!same) {
      throw new DeviceError(`${this.label} was replaced during the run (its path now names another file); run again`, {
        side: this.side, device: this.path, operation: 'size check',
      });
    }
    let size: number;
    try {
      size = info.isBlockDevice() ? await blockDeviceSize(info.rdev) : info.size;
    } catch (error) {
      throw this.error('stat', undefined, `cannot read the size: ${systemErrorText(error)}`, error);
    }
    return { size, io: { bytesRead: this.bytesRead, bytesWritten: this.bytesWritten, bytesSkipped: this.bytesSkipped } };
  }

  /** Closes the device; pending writes are awaited first, but their errors are not raised here. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.drain().catch(() => undefined);
    await this.handle.close().catch(() => undefined);
    await this.lock?.release();
  }
}

/**
 * How many reads of `unit` bytes may be in flight ahead of the one the consumer holds:
 * `wanted` of READ_UNIT's bytes at most, so a block size of 64 MiB does not hold
 * 3 x 64 MiB of reads. None for units above `wanted` x READ_UNIT: a block that must be
 * whole (to be hashed) is then held once, and the next is read after it.
 */
function readsAhead(unit: number, wanted: number): number {
  return Math.min(wanted, Math.floor((wanted * READ_UNIT) / unit));
}

/** Bytes a thread is given at a time: about 30 ms of work, few messages per GiB. */
const JOB_BYTES = 8 * 1024 * 1024;

/** Markers standing for a block's digest where its bytes were compared (comparedWith). */
export const SAME = Buffer.from([0]);
export const DIFFERENT = Buffer.from([1]);

/**
 * Splits [start, end) into jobs of whole blocks (about JOB_BYTES, at least one block)
 * and keeps `inFlightMax` of them in flight; yields them in order with their results.
 */
async function* rangeJobs<T>(
  start: number,
  end: number,
  blockSize: number,
  inFlightMax: number,
  signal: AbortSignal | undefined,
  run: (offset: number, length: number) => Promise<T>,
): AsyncGenerator<{ offset: number; length: number; result: Promise<T> }> {
  const step = blockSize * Math.max(1, Math.floor(JOB_BYTES / blockSize));
  const inFlight: { offset: number; length: number; result: Promise<T> }[] = [];
  let next = start;
  const issue = (): void => {
    while (inFlight.length < inFlightMax && next < end) {
      const length = Math.min(step, end - next);
      const result = run(next, length);
      result.catch(() => undefined); // awaited in order by the consumer
      inFlight.push({ offset: next, length, result });
      next += length;
    }
  };
  issue();
  while (inFlight.length > 0) {
    signal?.throwIfAborted();
    const job = inFlight.shift()!;
    await job.result.catch(() => undefined);
    issue();
    yield job;
  }
}

/** The digests of `data` cut into chunks of `chunkSize` (the last may be short). */
export function chunkDigestsOf(data: Buffer, chunkSize: number, digest: DigestFunction): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkSize) {
    out.push(digest(data.subarray(at, Math.min(at + chunkSize, data.length))));
  }
  return out;
}

/**
 * `~` and a leading `~/` mean the home directory of the user opening the device ($HOME),
 * as scp and rsync take them in a remote path: over ssh, the remote user's.
 */
export function expandHome(path: string): string {
  if (path !== '~' && !path.startsWith('~/')) return path;
  return join(homedir(), path.slice(1));
}

/**
 * Where a missing file named `path` is to be created: `path` itself, or, when it is a
 * symlink to nothing, the file it points to, as a shell's `>` or cp would write
 * through it. Creating with O_EXCL at the link itself would fail (EEXIST), and
 * replacing the link would leave its target missing.
 */
async function danglingLinkTarget(path: string): Promise<string> {
  let at = path;
  for (let hops = 0; hops < 40; hops++) {
    let target: string;
    try {
      target = await readlink(at);
    } catch {
      return at; // not a symlink (or nothing there): create it here
    }
    // join, not resolve: a relative link needs no working directory.
    at = isAbsolute(target) ? target : join(dirname(at), target);
  }
  return at; // a loop of links: creating at one of them fails, saying so
}

/** Creates a sparse regular file of `size` bytes, failing if anything exists there. */
async function createImage(path: string, size: number): Promise<void> {
  const handle = await open(path, 'wx', 0o644);
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}
