/**
 * Reads a delta file: a validation pass over every byte (structure, checksum, and
 * each payload decoded and checked against its after digest) before anything is
 * written, then passes over its entries as the apply needs them. Memory stays
 * bounded: one entry's payload at a time. Standard input ("-") is first spooled to
 * a private temporary file, so it too is validated whole before it is applied.
 */
import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import { BasynError, DeviceError, systemErrorText } from '../errors.js';
import { hashById, loadDigest, type DigestFunction, type HashAlgorithm } from '../hash/hash-algorithms.js';
import { decodeBlock } from '../protocol/block-codec.js';
import type { Encoding } from '../protocol/protocol.js';
import { quoteName } from '../report/quote.js';
import { kindOf, OPEN_NONBLOCK } from '../util/file-identity.js';
import {
  decodeDeltaHeader, decodeEntryHead, decodeTrailer, deltaError, newChecksum,
  CHECKPOINT_TAG, DELTA_HEADER_SIZE, ENTRY_FIXED_SIZE, TRAILER_SIZE, TRAILER_TAG, type DeltaEntryHead, type DeltaHeader,
} from './delta-format.js';

export interface DeltaEntry extends DeltaEntryHead {
  /** Where the payload starts in the file. */
  payloadAt: number;
  /** The entry's index in the file. */
  index: number;
}

export class DeltaFile {
  private constructor(
    /** The name as the user gave it ("-" for standard input). */
    readonly path: string,
    readonly header: DeltaHeader,
    readonly hash: HashAlgorithm,
    readonly entryCount: number,
    readonly dataBytes: number,
    readonly fileSize: number,
    private readonly file: FileHandle,
    private readonly spool: string | undefined,
    /** Where the usable part of the file ends. */
    private readonly end: number,
    /** An undo file of a run that was stopped: it covers what that run overwrote. */
    readonly interrupted: boolean,
  ) {
    this.cursor = new Cursor(file);
  }

  private readonly cursor: Cursor;

  /**
   * Opens and validates a delta completely. Throws a SyncError naming the file and the
   * first thing wrong in it (truncated, checksum, a field out of range, a payload that
   * does not decode to its digest).
   */
  static async open(path: string, stdin: Readable = process.stdin): Promise<DeltaFile> {
    let spool: string | undefined;
    let source = path;
    if (path === '-') {
      const dir = await fs.mkdtemp(join(tmpdir(), 'basyn-delta-'));
      spool = join(dir, 'stdin.delta');
      try {
        await pipeline(stdin, createWriteStream(spool, { flags: 'wx', mode: 0o600 }));
      } catch (error) {
        await fs.rm(dir, { recursive: true, force: true });
        throw new DeviceError(`cannot read the delta from standard input: ${systemErrorText(error)}`, { operation: 'read delta' });
      }
      source = spool;
    }
    // A FIFO would block open() until a writer comes, and no signal ends that wait.
    const kind = await fs.stat(source).then((info) => (info.isFile() ? undefined : kindOf(info)), () => undefined);
    if (kind !== undefined) throw deltaError(path, `is ${kind}, not a regular file`);
    let file: FileHandle;
    try {
      file = await fs.open(source, constants.O_RDONLY | OPEN_NONBLOCK);
    } catch (error) {
      if (spool !== undefined) await fs.rm(join(spool, '..'), { recursive: true, force: true });
      throw new DeviceError(`cannot open delta ${quoteName(path)}: ${systemErrorText(error)}`, { operation: 'open delta' });
    }
    try {
      const info = await file.stat();
      if (!info.isFile()) throw deltaError(path, 'is not a regular file');
      const fileSize = info.size;
      const head = await readAt(file, 0, Math.min(DELTA_HEADER_SIZE, fileSize));
      const header = decodeDeltaHeader(path, head, fileSize);
      const hash = hashById(header.hashId)!;
      const digest = await loadDigest(hash);
      const v = await validate(path, file, fileSize, header, digest);
      return new DeltaFile(path, header, hash, v.entries, v.dataBytes, fileSize, file, spool, v.end, v.interrupted);
    } catch (error) {
      await file.close();
      if (spool !== undefined) await fs.rm(join(spool, '..'), { recursive: true, force: true });
      throw error;
    }
  }

  /** The entries in file order, without their payloads. */
  async *entries(): AsyncGenerator<DeltaEntry> {
    yield* walkEntries(this.path, this.cursor, this.end, this.header);
  }

  /** The entry's data, decoded (checked in the validation pass). */
  async data(e: DeltaEntry): Promise<Buffer> {
    const payload = await this.cursor.bytes(e.payloadAt, e.payloadLength);
    return decode(this.path, e, payload);
  }

  async close(): Promise<void> {
    await this.file.close().catch(() => undefined);
    if (this.spool !== undefined) await fs.rm(join(this.spool, '..'), { recursive: true, force: true });
  }
}

/** Bytes read ahead at once: the passes walk the file front to back. */
const READ_AHEAD = 1024 * 1024;

/**
 * Sequential reads served from one read-ahead window, so that walking thousands of
 * small entries costs a read per MiB, not three per entry. Each window is a fresh
 * buffer: slices handed out stay valid.
 */
class Cursor {
  private window: Buffer = Buffer.alloc(0);
  private start = 0;
  constructor(private readonly file: FileHandle) {}

  async bytes(position: number, length: number): Promise<Buffer> {
    if (position >= this.start && position + length <= this.start + this.window.length) {
      return this.window.subarray(position - this.start, position - this.start + length);
    }
    if (length > READ_AHEAD / 2) return readAt(this.file, position, length);
    this.window = await readAt(this.file, position, READ_AHEAD);
    this.start = position;
    return this.window.subarray(0, Math.min(length, this.window.length));
  }
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const b = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(b, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? b : b.subarray(0, done);
}

type Walked = DeltaEntry | { checkpoint: number } | { trailer: number };

/** Entries, checkpoints and the trailer in file order; `limit`: where the readable part ends. */
async function* walk(path: string, file: Cursor, limit: number, h: DeltaHeader): AsyncGenerator<Walked> {
  const fixed = ENTRY_FIXED_SIZE + 2 * h.digestLength;
  const truncated = (): never => {
    throw Object.assign(deltaError(path, `is truncated: it ends at ${limit} bytes, inside an entry or before its trailer`), { truncated: true });
  };
  let at = DELTA_HEADER_SIZE;
  let index = 0;
  for (;;) {
    if (at >= limit) truncated();
    const tag = (await file.bytes(at, 1))[0];
    if (tag === TRAILER_TAG || (tag === CHECKPOINT_TAG && h.kind === 'undo')) {
      if (at + TRAILER_SIZE > limit) truncated();
      yield tag === TRAILER_TAG ? { trailer: at } : { checkpoint: at };
      if (tag === TRAILER_TAG) return;
      at += TRAILER_SIZE;
      continue;
    }
    if (at + fixed > limit) truncated();
    const head = decodeEntryHead(path, await file.bytes(at, fixed), h, at);
    if (at + fixed + head.payloadLength > limit) truncated();
    yield { ...head, payloadAt: at + fixed, index };
    at += fixed + head.payloadLength;
    index++;
  }
}

async function* walkEntries(path: string, file: Cursor, end: number, h: DeltaHeader): AsyncGenerator<DeltaEntry> {
  if (end <= DELTA_HEADER_SIZE) return;
  for await (const w of walk(path, file, end, h)) {
    if ('trailer' in w) return;
    if ('checkpoint' in w) {
      if (w.checkpoint + TRAILER_SIZE >= end) return;
      continue;
    }
    yield w;
  }
}

interface Validated {
  entries: number;
  dataBytes: number;
  /** Where the usable part ends: after the trailer, or after the last checkpoint of an interrupted undo. */
  end: number;
  /** An undo file of a run that was stopped: it ends at a checkpoint. */
  interrupted: boolean;
}

async function validate(path: string, handle: FileHandle, fileSize: number, h: DeltaHeader, digest: DigestFunction): Promise<Validated> {
  const file = new Cursor(handle);
  const checksum = newChecksum();
  checksum.update(await file.bytes(0, DELTA_HEADER_SIZE));
  const fixed = ENTRY_FIXED_SIZE + 2 * h.digestLength;
  let entries = 0;
  let dataBytes = 0;
  // What the last checkpoint vouches for (an undo file with none covers no write).
  let safe = { entries: 0, dataBytes: 0, end: DELTA_HEADER_SIZE };
  const record = async (at: number, tag: number): Promise<void> => {
    const bytes = await file.bytes(at, TRAILER_SIZE);
    const t = decodeTrailer(path, bytes, tag);
    checksum.update(bytes.subarray(0, TRAILER_SIZE - 32));
    if (!checksum.copy().digest().equals(t.checksum)) throw deltaError(path, 'is damaged: its checksum does not match its contents');
    checksum.update(bytes.subarray(TRAILER_SIZE - 32));
    if (t.entries !== entries || t.dataBytes !== dataBytes) {
      throw deltaError(path, `is damaged: its ${tag === TRAILER_TAG ? 'trailer' : 'checkpoint'} counts ${t.entries} entries of ${t.dataBytes} bytes, it holds ${entries} of ${dataBytes}`);
    }
  };
  try {
    for await (const w of walk(path, file, fileSize, h)) {
      if ('trailer' in w) {
        await record(w.trailer, TRAILER_TAG);
        if (w.trailer + TRAILER_SIZE !== fileSize) {
          throw deltaError(path, `is ${fileSize} bytes, but its entries and trailer make ${w.trailer + TRAILER_SIZE}: it has bytes appended`);
        }
        return { entries, dataBytes, end: fileSize, interrupted: false };
      }
      if ('checkpoint' in w) {
        await record(w.checkpoint, CHECKPOINT_TAG);
        safe = { entries, dataBytes, end: w.checkpoint + TRAILER_SIZE };
        continue;
      }
      const payload = await file.bytes(w.payloadAt, w.payloadLength);
      checksum.update(await file.bytes(w.payloadAt - fixed, fixed));
      checksum.update(payload);
      const data = await decode(path, w, payload);
      if (!digest(data).equals(w.after)) throw deltaError(path, `is damaged: the data of the entry at device offset ${w.offset} does not match its digest`, w.offset);
      entries++;
      dataBytes += w.length;
    }
  } catch (error) {
    // An undo file whose run was killed: what its last checkpoint covers is whole.
    if (h.kind === 'undo' && (error as { truncated?: boolean }).truncated === true) return { ...safe, interrupted: true };
    throw error;
  }
  throw deltaError(path, 'is truncated');
}

async function decode(path: string, e: DeltaEntryHead, payload: Buffer): Promise<Buffer> {
  let data: Buffer | undefined;
  try {
    data = await decodeBlock(e.encoding as Encoding, payload, e.length);
  } catch (error) {
    const why = error instanceof BasynError ? error.message : String(error);
    throw deltaError(path, `is damaged: the entry at device offset ${e.offset} does not decode (${why})`, e.offset);
  }
  // An encoding this build's codec does not handle returns nothing.
  if (!Buffer.isBuffer(data) || data.length !== e.length) throw deltaError(path, `has an entry at device offset ${e.offset} in encoding ${e.encoding}, which this basyn cannot decode`, e.offset);
  return data;
}
