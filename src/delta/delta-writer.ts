/**
 * Writes a delta file (delta-format.ts) front to back: header, entries as they come,
 * trailer with the checksum. A file is created exclusively next to its final name and
 * renamed into place only once complete and fsynced, so a delta that exists is whole;
 * "-" streams to standard output instead (whose reader validates it the same way).
 */
import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { DeviceError, systemErrorText } from '../errors.js';
import type { HashAlgorithm } from '../hash/hash-algorithms.js';
import { encodeBlock, type CodecSetting } from '../protocol/block-codec.js';
import { quoteName } from '../report/quote.js';
import {
  encodeDeltaHeader, encodeEntryHead, encodeTrailerHead, newChecksum, CHECKPOINT_TAG, DELTA_HEADER_SIZE, DELTA_MAGIC, TRAILER_SIZE, type DeltaKind,
} from './delta-format.js';
import { kindOf, OPEN_NONBLOCK, realTarget } from '../util/file-identity.js';

/** Bytes gathered before a write to the file (entries are small next to this). */
const WRITE_BATCH = 4 * 1024 * 1024;

export interface DeltaFigures {
  /** The delta file's path ("-" for standard output). */
  path: string;
  entries: number;
  /** Raw bytes of data the entries carry. */
  dataBytes: number;
  /** The file's size in bytes. */
  fileSize: number;
}

/** What --stat and --json tell of a delta run. */
export interface DeltaReport extends DeltaFigures {
  /** 'write': --write-delta made it; 'apply': --apply-delta applied it (several files: their sums). */
  operation: 'write' | 'apply';
  /** Apply: entries already in place (skipped). */
  skipped?: number;
}

export interface DeltaWriterOptions {
  hash: HashAlgorithm;
  unitSize: number;
  deviceSize: number;
  kind: DeltaKind;
  /** How payloads are compressed (file-codec.ts). */
  codec: CodecSetting;
  /** Where "-" goes (default: process.stdout). */
  stdout?: Writable;
}

export class DeltaWriter {
  private readonly checksum = newChecksum();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  private entries = 0;
  private dataBytes = 0;
  /** Serialises appends: entries arrive from concurrent block moves. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly options: DeltaWriterOptions,
    private readonly file: FileHandle | undefined,
    private readonly temporary: string | undefined,
    /** Where the file goes: `path` after its symlinks, so a symlink stays one. */
    private readonly final: string = path,
  ) {}

  static async create(path: string, options: DeltaWriterOptions): Promise<DeltaWriter> {
    let writer: DeltaWriter;
    if (path === '-') {
      writer = new DeltaWriter(path, options, undefined, undefined);
    } else {
      // An undo file is written in place: a run killed part-way must leave the part
      // that covers the writes it issued (checkpoint()). A delta appears whole or not at all.
      const final = options.kind === 'undo' ? path : await replaceableDelta(path);
      const temporary = options.kind === 'undo' ? undefined : join(dirname(final), `.${basename(final)}.${process.pid}.partial`);
      let file: FileHandle;
      try {
        file = await fs.open(temporary ?? final, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      } catch (error) {
        throw new DeviceError(`cannot create ${options.kind === 'undo' ? 'undo file' : 'delta'} ${quoteName(path)}: ${systemErrorText(error)}`, { operation: `create ${options.kind}` });
      }
      writer = new DeltaWriter(path, options, file, temporary, final);
    }
    writer.append(encodeDeltaHeader({
      hashId: options.hash.id, digestLength: options.hash.digestLength, unitSize: options.unitSize,
      deviceSize: options.deviceSize, created: Date.now(), kind: options.kind,
    }));
    return writer;
  }

  /** Adds one entry; `before` undefined: unknown. Resolves once it is queued. */
  add(offset: number, data: Buffer, before: Buffer | undefined, after: Buffer): Promise<void> {
    const step = this.queue.then(async () => {
      const { encoding, payload } = await encodeBlock(data, this.options.codec);
      this.append(encodeEntryHead({ offset, length: data.length, encoding, payloadLength: payload.length, before, after }, this.options.hash.digestLength));
      if (payload.length > 0) this.append(Buffer.from(payload));
      this.entries++;
      this.dataBytes += data.length;
      if (this.pendingBytes >= WRITE_BATCH && this.options.kind !== 'undo') await this.drain();
    });
    this.queue = step.catch(() => undefined);
    return step;
  }

  private append(b: Buffer): void {
    this.checksum.update(b);
    this.pending.push(b);
    this.pendingBytes += b.length;
  }

  private async drain(): Promise<void> {
    const chunk = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    try {
      if (this.file !== undefined) await this.file.write(chunk, 0, chunk.length, this.written);
      else await writeTo(this.options.stdout ?? process.stdout, chunk);
    } catch (error) {
      throw new DeviceError(`cannot write delta ${quoteName(this.path)}: ${systemErrorText(error)}`, { operation: 'write delta' });
    }
    this.written += chunk.length;
  }

  /**
   * Undo files: makes every entry added so far durable, behind a checkpoint that an
   * apply accepts as the end of the file if the run stops before the next one.
   */
  async checkpoint(): Promise<void> {
    await this.queue;
    this.append(encodeTrailerHead(this.entries, this.dataBytes, CHECKPOINT_TAG));
    this.append(this.checksum.copy().digest());
    await this.drain();
    try {
      await this.file?.sync();
    } catch (error) {
      throw new DeviceError(`cannot write undo file ${quoteName(this.path)}: ${systemErrorText(error)}`, { operation: 'write undo' });
    }
  }

  /** Writes the trailer, makes the file durable and puts it in place. */
  async finish(): Promise<DeltaFigures> {
    await this.queue;
    const head = encodeTrailerHead(this.entries, this.dataBytes);
    this.append(head);
    this.pending.push(this.checksum.digest());
    this.pendingBytes += 32;
    await this.drain();
    if (this.file !== undefined) {
      try {
        await this.file.sync();
        await this.file.close();
        this.closed = true;
        if (this.temporary !== undefined) await fs.rename(this.temporary, this.final);
        const dir = await fs.open(dirname(this.final), 'r');
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
      } catch (error) {
        throw new DeviceError(`cannot complete delta ${quoteName(this.path)}: ${systemErrorText(error)}`, { operation: 'write delta' });
      }
    }
    return this.figures();
  }

  figures(): DeltaFigures {
    return { path: this.path, entries: this.entries, dataBytes: this.dataBytes, fileSize: Math.max(this.written, DELTA_HEADER_SIZE) };
  }

  /** After a failure: the partial file is removed, never left under the delta's name. */
  async abandon(): Promise<void> {
    await this.queue;
    if (this.file !== undefined && !this.closed) {
      this.closed = true;
      await this.file.close().catch(() => undefined);
      // An undo file stays: it ends at its last checkpoint, which covers every write issued.
      if (this.temporary !== undefined) await fs.unlink(this.temporary).catch(() => undefined);
    }
  }
}

/**
 * The real path a delta goes to (through symlinks), when what is there may be
 * replaced: nothing, an empty file or an earlier delta. Anything else (an image, a
 * device, a bitmap, a directory) is refused before anything is written, since the
 * delta is renamed over it.
 */
async function replaceableDelta(path: string): Promise<string> {
  const refuse = (why: string): never => {
    throw new DeviceError(`delta ${quoteName(path)} ${why}; basyn leaves it as it is (the delta path must name a delta file, or a path where none exists yet)`, { operation: 'create delta' });
  };
  let final: string;
  try {
    final = await realTarget(path);
  } catch (error) {
    throw new DeviceError(`cannot create delta ${quoteName(path)}: ${systemErrorText(error)}`, { operation: 'create delta' });
  }
  let info;
  try {
    info = await fs.lstat(final);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return final;
    throw new DeviceError(`cannot create delta ${quoteName(path)}: ${systemErrorText(error)}`, { operation: 'create delta' });
  }
  if (!info.isFile()) return refuse(`is ${kindOf(info)}`);
  if (info.size === 0) return final;
  const magic = Buffer.alloc(DELTA_MAGIC.length);
  let read = 0;
  try {
    const file = await fs.open(final, constants.O_RDONLY | OPEN_NONBLOCK);
    try {
      ({ bytesRead: read } = await file.read(magic, 0, magic.length, 0));
    } finally {
      await file.close();
    }
  } catch (error) {
    throw new DeviceError(`cannot create delta ${quoteName(path)}: ${systemErrorText(error)}`, { operation: 'create delta' });
  }
  return read === magic.length && magic.equals(DELTA_MAGIC) ? final : refuse('exists and is not a basyn delta');
}

export const DELTA_OVERHEAD = DELTA_HEADER_SIZE + TRAILER_SIZE;

function writeTo(stream: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}
