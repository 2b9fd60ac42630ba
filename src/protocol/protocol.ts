/**
 * The basyn wire protocol: how the engine (client) talks to an agent serving one
 * device, over ssh or over the pipes of a local child process.
 *
 * PROTOCOL_VERSION 2. Full prose in docs/protocol.md; this block is the reference.
 *
 * Frame (all integers big-endian; u64 values must be <= 2^53-1):
 *
 *   offset  size  field
 *   0       4     N: body length in bytes, 1 <= N <= the receiver's frame limit
 *   4       1     message type (table below)
 *   5       N-1   message fields, in the order listed
 *
 * A receiver rejects a frame whose N is 0 or over its limit before allocating
 * anything for it. Before OPEN the limit is HANDSHAKE_FRAME_LIMIT; after OPEN it is
 * frameLimitFor(blockSize) on both ends. `str` is a u32 byte length then UTF-8;
 * `rest` is the remaining bytes of the frame.
 *
 *   type  name          direction       fields
 *   0x01  HELLO         both, first     u32 magic 0x4253594e ("BSYN"), u16 version,
 *                                       u16 min version accepted, str software
 *                                       (e.g. "basyn 0.1.0 node v20.20.2"),
 *                                       u8 capability count, then per capability:
 *                                       u8 id, u16 value length, value bytes
 *                                       (capabilities.ts; unknown ids are skipped;
 *                                       a protocol-1 HELLO ends after software)
 *   0x10  OPEN          client->agent   u32 id, u8 flags (bit0 writable), u8 hash id,
 *                                       u8 codec the agent sends DATA with (0 none,
 *                                       1 zlib, 3 zstd, 255 auto), u8 level (zlib 0-9,
 *                                       zstd 1-19, 0 with none and auto), u64 wire
 *                                       rate limit for the agent's DATA in bytes/s
 *                                       (0: none), u32 block size (largest block or
 *                                       chunk that will be asked for), u64 create size
 *                                       (0: open as is; else create or extend a regular
 *                                       file to this size, --create), str path
 *   0x11  OPENED        agent->client   u32 id, u64 size, u8 kind (0 file, 1 block device)
 *   0x12  DIGEST_STREAM client->agent   u32 id, u64 start, u64 end, u32 block size,
 *                                       u32 credit (blocks the agent may send ahead),
 *                                       u8 threads (hashing threads wanted; 0 or 1: one)
 *   0x13  DIGESTS       agent->client   u32 id, u64 offset of the first block, rest:
 *                                       digests of consecutive blocks
 *   0x14  CREDIT        client->agent   u32 id, u32 more blocks for stream id
 *   0x15  END           agent->client   u32 id: stream id has sent its last block
 *   0x16  CHUNK_DIGESTS client->agent   u32 id, u64 offset, u32 length, u32 chunk size
 *   0x17  DIGEST_LIST   agent->client   u32 id, rest: one digest per chunk
 *   0x18  READ          client->agent   u32 id, u64 offset, u32 length
 *   0x19  READ_STREAM   client->agent   u32 id, u64 start, u64 end, u32 block size, u32 credit
 *   0x1a  DATA          agent->client   u32 id, u64 offset, u32 raw length, u8 encoding, rest: payload
 *   0x1b  WRITE         client->agent   u64 offset, u32 raw length, u8 encoding, rest: payload
 *   0x1c  FLUSH         client->agent   u32 id: finish every earlier WRITE, then fsync
 *   0x1d  FLUSHED       agent->client   u32 id, u64 bytes read, u64 bytes written (totals so far),
 *                                       u64 the device's size now (to notice a size change)
 *   0x1e  ERROR         agent->client   u32 id (0: not tied to a request; fatal), u8 code,
 *                                       u64 offset (2^53-1 when none), str operation, str message
 *   0x1f  BYE           client->agent   (no fields): close the device and exit
 *   0x28  UNDO_OPEN     client->agent   u32 id, str path: create the undo file (--undo) on
 *                                       the agent's machine, exclusively; only after OPENED
 *                                       of a writable device and before any WRITE. From then
 *                                       on the old contents of every block a WRITE overwrites
 *                                       are saved into it, durable before the write is issued
 *                                       (unit size = OPEN's block size; hash, zlevel = OPEN's)
 *   0x29  UNDO_FINISH   client->agent   u32 id: finish every earlier WRITE, fsync the device,
 *                                       then write the undo file's trailer and fsync it; no
 *                                       WRITE may follow
 *   0x2a  UNDO_STATE    agent->client   u32 id, u64 entries, u64 data bytes, u64 file size:
 *                                       the answer to UNDO_OPEN and to UNDO_FINISH
 *
 * Encodings (DATA, WRITE): 0 raw (payload is the block), 1 zlib (payload inflates to
 * exactly raw length bytes), 2 zero (empty payload; the block is raw length zero bytes),
 * 3 zstd (payload is one zstd frame whose header announces a content size equal to raw
 * length, and which decompresses to exactly that). A sender uses zstd only when the
 * receiver's HELLO lists it in its CODECS capability.
 *
 * Protocol 2 changed HELLO (capabilities) and OPEN (codec, level, rate limit) and
 * added encoding 3; an end of protocol 1 is refused with both versions named.
 */
import { ProtocolError } from '../errors.js';
import { NOTHING_TO_RELEASE, type SlabPool } from '../util/slab-pool.js';
import type { Capability } from './capabilities.js';

export const PROTOCOL_VERSION = 2;
export const MIN_PROTOCOL_VERSION = 2;
export const PROTOCOL_MAGIC = 0x4253594e;
export const HANDSHAKE_FRAME_LIMIT = 64 * 1024;
/** No offset: sent in ERROR when the failure is not at a byte position. */
export const NO_OFFSET = Number.MAX_SAFE_INTEGER;

/** The largest frame either end accepts once blocks of `blockSize` bytes are in play. */
export function frameLimitFor(blockSize: number): number {
  return Math.max(HANDSHAKE_FRAME_LIMIT, blockSize + 64);
}

export const enum MessageType {
  Hello = 0x01,
  Open = 0x10,
  Opened = 0x11,
  DigestStream = 0x12,
  Digests = 0x13,
  Credit = 0x14,
  End = 0x15,
  ChunkDigests = 0x16,
  DigestList = 0x17,
  Read = 0x18,
  ReadStream = 0x19,
  Data = 0x1a,
  Write = 0x1b,
  Flush = 0x1c,
  Flushed = 0x1d,
  Error = 0x1e,
  Bye = 0x1f,
  UndoOpen = 0x28,
  UndoFinish = 0x29,
  UndoState = 0x2a,
}

export const enum Encoding {
  Raw = 0,
  Zlib = 1,
  Zero = 2,
  Zstd = 3,
}

/** OPEN's codec field: the encodings a sender compresses with, and 255 for "choose as the run goes". */
export const enum OpenCodec {
  None = 0,
  Zlib = 1,
  Zstd = 3,
  Auto = 255,
}

export const enum DeviceKind {
  File = 0,
  BlockDevice = 1,
}

/** ERROR codes: what kind of failure the agent met. */
export const enum ErrorCode {
  /** I/O on the device failed (EIO, ENOSPC, short read...). */
  Device = 1,
  /** The request was malformed or out of range; the agent stops. */
  Protocol = 2,
  /** The device could not be opened. */
  Open = 3,
}

export type Message =
  | { type: MessageType.Hello; magic: number; version: number; minVersion: number; software: string; capabilities: readonly Capability[] }
  | { type: MessageType.Open; id: number; writable: boolean; hashId: number; codec: OpenCodec; level: number; rateLimit: number; blockSize: number; createSize: number; path: string }
  | { type: MessageType.Opened; id: number; size: number; kind: DeviceKind }
  | { type: MessageType.DigestStream; id: number; start: number; end: number; blockSize: number; credit: number; threads: number }
  | { type: MessageType.Digests; id: number; offset: number; digests: Buffer }
  | { type: MessageType.Credit; id: number; blocks: number }
  | { type: MessageType.End; id: number }
  | { type: MessageType.ChunkDigests; id: number; offset: number; length: number; chunkSize: number }
  | { type: MessageType.DigestList; id: number; digests: Buffer }
  | { type: MessageType.Read; id: number; offset: number; length: number }
  | { type: MessageType.ReadStream; id: number; start: number; end: number; blockSize: number; credit: number }
  | { type: MessageType.Data; id: number; offset: number; rawLength: number; encoding: Encoding; payload: Buffer }
  | { type: MessageType.Write; offset: number; rawLength: number; encoding: Encoding; payload: Buffer }
  | { type: MessageType.Flush; id: number }
  | { type: MessageType.Flushed; id: number; bytesRead: number; bytesWritten: number; size: number }
  | { type: MessageType.Error; id: number; code: ErrorCode; offset: number; operation: string; message: string }
  | { type: MessageType.Bye }
  | { type: MessageType.UndoOpen; id: number; path: string }
  | { type: MessageType.UndoFinish; id: number }
  | { type: MessageType.UndoState; id: number; entries: number; dataBytes: number; fileSize: number };

/** Builds the fixed part of a frame; payloads are appended without copying. */
class FieldWriter {
  private readonly buf: Buffer;
  private pos = 5;
  constructor(type: MessageType, capacity: number) {
    this.buf = Buffer.allocUnsafe(5 + capacity);
    this.buf[4] = type;
  }
  u8(v: number): this {
    this.buf[this.pos++] = v;
    return this;
  }
  u16(v: number): this {
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  u64(v: number): this {
    this.buf.writeBigUInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }
  str(s: Buffer): this {
    this.u32(s.length);
    return this.bytes(s);
  }
  bytes(b: Buffer): this {
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }
  /** The frame as [head] or [head, payload], with the length prefix filled in. */
  finish(payload?: Buffer): Buffer[] {
    const head = this.buf.subarray(0, this.pos);
    const bodyLength = this.pos - 4 + (payload?.length ?? 0);
    head.writeUInt32BE(bodyLength, 0);
    return payload !== undefined && payload.length > 0 ? [head, payload] : [head];
  }
}

/** Encodes one message as the buffers of one frame (header fields, then any payload). */
export function encodeMessage(m: Message): Buffer[] {
  switch (m.type) {
    case MessageType.Hello: {
      const s = Buffer.from(m.software, 'utf8');
      const caps = m.capabilities.slice(0, 255);
      const w = new FieldWriter(m.type, 13 + s.length + caps.reduce((n, c) => n + 3 + c.value.length, 0))
        .u32(m.magic).u16(m.version).u16(m.minVersion).str(s).u8(caps.length);
      for (const c of caps) w.u8(c.id).u16(c.value.length).bytes(c.value);
      return w.finish();
    }
    case MessageType.Open: {
      const p = Buffer.from(m.path, 'utf8');
      return new FieldWriter(m.type, 32 + p.length)
        .u32(m.id).u8(m.writable ? 1 : 0).u8(m.hashId).u8(m.codec).u8(m.level).u64(m.rateLimit).u32(m.blockSize).u64(m.createSize).str(p).finish();
    }
    case MessageType.Opened:
      return new FieldWriter(m.type, 13).u32(m.id).u64(m.size).u8(m.kind).finish();
    case MessageType.DigestStream:
      return new FieldWriter(m.type, 29).u32(m.id).u64(m.start).u64(m.end).u32(m.blockSize).u32(m.credit).u8(m.threads).finish();
    case MessageType.Digests:
      return new FieldWriter(m.type, 12).u32(m.id).u64(m.offset).finish(m.digests);
    case MessageType.Credit:
      return new FieldWriter(m.type, 8).u32(m.id).u32(m.blocks).finish();
    case MessageType.End:
      return new FieldWriter(m.type, 4).u32(m.id).finish();
    case MessageType.ChunkDigests:
      return new FieldWriter(m.type, 20).u32(m.id).u64(m.offset).u32(m.length).u32(m.chunkSize).finish();
    case MessageType.DigestList:
      return new FieldWriter(m.type, 4).u32(m.id).finish(m.digests);
    case MessageType.Read:
      return new FieldWriter(m.type, 16).u32(m.id).u64(m.offset).u32(m.length).finish();
    case MessageType.ReadStream:
      return new FieldWriter(m.type, 28).u32(m.id).u64(m.start).u64(m.end).u32(m.blockSize).u32(m.credit).finish();
    case MessageType.Data:
      return new FieldWriter(m.type, 17).u32(m.id).u64(m.offset).u32(m.rawLength).u8(m.encoding).finish(m.payload);
    case MessageType.Write:
      return new FieldWriter(m.type, 13).u64(m.offset).u32(m.rawLength).u8(m.encoding).finish(m.payload);
    case MessageType.Flush:
      return new FieldWriter(m.type, 4).u32(m.id).finish();
    case MessageType.Flushed:
      return new FieldWriter(m.type, 28).u32(m.id).u64(m.bytesRead).u64(m.bytesWritten).u64(m.size).finish();
    case MessageType.Error: {
      const op = Buffer.from(m.operation, 'utf8');
      const text = Buffer.from(m.message.slice(0, 4000), 'utf8');
      return new FieldWriter(m.type, 21 + op.length + text.length)
        .u32(m.id).u8(m.code).u64(m.offset).str(op).str(text).finish();
    }
    case MessageType.Bye:
      return new FieldWriter(m.type, 0).finish();
    case MessageType.UndoOpen: {
      const p = Buffer.from(m.path, 'utf8');
      return new FieldWriter(m.type, 8 + p.length).u32(m.id).str(p).finish();
    }
    case MessageType.UndoFinish:
      return new FieldWriter(m.type, 4).u32(m.id).finish();
    case MessageType.UndoState:
      return new FieldWriter(m.type, 28).u32(m.id).u64(m.entries).u64(m.dataBytes).u64(m.fileSize).finish();
  }
}

/** Reads fields of one frame body, throwing ProtocolError on any overrun. */
class FieldReader {
  private pos = 1;
  constructor(private readonly body: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.body.length) {
      throw new ProtocolError(`truncated ${messageName(this.body[0]!)} frame (${this.body.length} bytes)`);
    }
  }
  u8(): number {
    this.need(1);
    return this.body[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.body.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.body.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.body.readBigUInt64BE(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ProtocolError(`${messageName(this.body[0]!)} frame holds an integer over 2^53-1`);
    }
    return Number(v);
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const s = this.body.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.body.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  get remaining(): number {
    return this.body.length - this.pos;
  }
  rest(): Buffer {
    const r = this.body.subarray(this.pos);
    this.pos = this.body.length;
    return r;
  }
  done(): void {
    if (this.pos !== this.body.length) {
      throw new ProtocolError(`${messageName(this.body[0]!)} frame has ${this.body.length - this.pos} extra bytes`);
    }
  }
}

const MESSAGE_NAMES: Record<number, string> = {
  0x01: 'HELLO', 0x10: 'OPEN', 0x11: 'OPENED', 0x12: 'DIGEST_STREAM', 0x13: 'DIGESTS', 0x14: 'CREDIT',
  0x15: 'END', 0x16: 'CHUNK_DIGESTS', 0x17: 'DIGEST_LIST', 0x18: 'READ', 0x19: 'READ_STREAM', 0x1a: 'DATA',
  0x1b: 'WRITE', 0x1c: 'FLUSH', 0x1d: 'FLUSHED', 0x1e: 'ERROR', 0x1f: 'BYE',
  0x28: 'UNDO_OPEN', 0x29: 'UNDO_FINISH', 0x2a: 'UNDO_STATE',
};

export function messageName(type: number): string {
  return MESSAGE_NAMES[type] ?? `unknown type 0x${type.toString(16).padStart(2, '0')}`;
}

function encodingOf(v: number): Encoding {
  if (v !== Encoding.Raw && v !== Encoding.Zlib && v !== Encoding.Zero && v !== Encoding.Zstd) {
    throw new ProtocolError(`unknown block encoding ${v}`);
  }
  return v;
}

function openCodecOf(v: number): OpenCodec {
  if (v !== OpenCodec.None && v !== OpenCodec.Zlib && v !== OpenCodec.Zstd && v !== OpenCodec.Auto) {
    throw new ProtocolError(`OPEN asks for unknown codec ${v}`);
  }
  return v;
}

/** A protocol-1 HELLO ends after the software string: it then has no capabilities. */
function readCapabilities(r: FieldReader): Capability[] {
  if (r.remaining === 0) return [];
  const count = r.u8();
  const out: Capability[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.u8();
    out.push({ id, value: r.bytes(r.u16()) });
  }
  return out;
}

/** Decodes one frame body (type byte first). Throws ProtocolError on anything malformed. */
export function decodeMessage(body: Buffer): Message {
  if (body.length === 0) throw new ProtocolError('empty frame (no message type)');
  const r = new FieldReader(body);
  const type = body[0]!;
  let m: Message;
  switch (type) {
    case MessageType.Hello:
      m = { type, magic: r.u32(), version: r.u16(), minVersion: r.u16(), software: r.str(), capabilities: readCapabilities(r) };
      break;
    case MessageType.Open:
      m = {
        type, id: r.u32(), writable: (r.u8() & 1) === 1, hashId: r.u8(), codec: openCodecOf(r.u8()), level: r.u8(),
        rateLimit: r.u64(), blockSize: r.u32(), createSize: r.u64(), path: r.str(),
      };
      break;
    case MessageType.Opened: {
      const id = r.u32();
      const size = r.u64();
      const kind = r.u8();
      if (kind !== DeviceKind.File && kind !== DeviceKind.BlockDevice) throw new ProtocolError(`unknown device kind ${kind}`);
      m = { type, id, size, kind };
      break;
    }
    case MessageType.DigestStream:
      m = { type, id: r.u32(), start: r.u64(), end: r.u64(), blockSize: r.u32(), credit: r.u32(), threads: r.u8() };
      break;
    case MessageType.Digests:
      m = { type, id: r.u32(), offset: r.u64(), digests: r.rest() };
      break;
    case MessageType.Credit:
      m = { type, id: r.u32(), blocks: r.u32() };
      break;
    case MessageType.End:
      m = { type, id: r.u32() };
      break;
    case MessageType.ChunkDigests:
      m = { type, id: r.u32(), offset: r.u64(), length: r.u32(), chunkSize: r.u32() };
      break;
    case MessageType.DigestList:
      m = { type, id: r.u32(), digests: r.rest() };
      break;
    case MessageType.Read:
      m = { type, id: r.u32(), offset: r.u64(), length: r.u32() };
      break;
    case MessageType.ReadStream:
      m = { type, id: r.u32(), start: r.u64(), end: r.u64(), blockSize: r.u32(), credit: r.u32() };
      break;
    case MessageType.Data:
      m = { type, id: r.u32(), offset: r.u64(), rawLength: r.u32(), encoding: encodingOf(r.u8()), payload: r.rest() };
      break;
    case MessageType.Write:
      m = { type, offset: r.u64(), rawLength: r.u32(), encoding: encodingOf(r.u8()), payload: r.rest() };
      break;
    case MessageType.Flush:
      m = { type, id: r.u32() };
      break;
    case MessageType.Flushed:
      m = { type, id: r.u32(), bytesRead: r.u64(), bytesWritten: r.u64(), size: r.u64() };
      break;
    case MessageType.Error:
      m = { type, id: r.u32(), code: r.u8(), offset: r.u64(), operation: r.str(), message: r.str() };
      break;
    case MessageType.Bye:
      m = { type };
      break;
    case MessageType.UndoOpen:
      m = { type, id: r.u32(), path: r.str() };
      break;
    case MessageType.UndoFinish:
      m = { type, id: r.u32() };
      break;
    case MessageType.UndoState:
      m = { type, id: r.u32(), entries: r.u64(), dataBytes: r.u64(), fileSize: r.u64() };
      break;
    default:
      throw new ProtocolError(`unknown message type 0x${type.toString(16).padStart(2, '0')}`);
  }
  r.done();
  return m;
}

/** A frame's body, and how to give its memory back (see FrameDecoder's `reuse`). */
export interface Frame {
  body: Buffer;
  release(): void;
}

/** Where FrameDecoder puts the bodies of one message type that it has to join from pieces. */
export interface FrameReuse {
  type: MessageType;
  pool: SlabPool;
  /** Bodies shorter than this are fresh memory anyway: cheap young garbage, not worth a slab. */
  fromBytes: number;
  /**
   * Only the bodies this says yes to, from their first bytes (`byte(at)`, at <
   * FRAME_HEAD_BYTES): for frames whose memory is given back, not kept (see
   * RemoteDevice's DATA).
   */
  wants?: (byte: (at: number) => number) => boolean;
}

/** The first bytes of a body that decide where it goes (FrameReuse.wants): a DATA header is 18. */
export const FRAME_HEAD_BYTES = 32;
/** Bodies up to this size get their memory when they begin; longer ones not in a slab, as their bytes come. */
const BODY_TAKEN_AT_ONCE = 64 * 1024;

/**
 * Splits a byte stream into frame bodies. Checks each length against the current
 * limit before taking any memory for the body, so a hostile length costs nothing.
 *
 * A body is copied into memory of its own as its bytes arrive, so the decoder never
 * keeps a chunk the input reads into again (`borrowed`): a pipe read into fresh memory
 * each time was hundreds of 64 KiB buffers per second for the collector, freed late
 * (channel.ts). A whole body inside a chunk the caller does not reuse is passed on as
 * a view of it. A long body of another type (rare) is kept as the pieces that came,
 * joined once complete: memory for it is never taken on the word of its length alone.
 *
 * A body of the message type named in `reuse` goes into a pool of reused slabs, and
 * the frame's `release` gives it back. Joining 1 GiB of blocks into fresh buffers took
 * an agent 0.9 s of one core, most of it the kernel's page faults on new memory: a copy
 * into memory already touched is over ten times faster. Bodies of other types (small,
 * rare) are fresh memory, and their release does nothing.
 */
export class FrameDecoder {
  /** The 4-byte length being read, and how many of its bytes have come. */
  private readonly lengthBytes = Buffer.alloc(4);
  private lengthFilled = 0;
  /** The length of the body being read; -1 while its length is. */
  private expected = -1;
  /** The body's first bytes, held until there are enough to choose its memory. */
  private readonly head = Buffer.alloc(FRAME_HEAD_BYTES);
  private headFilled = 0;
  /** The memory the body is being copied into, once chosen, and how much of it is filled. */
  private body: Frame | undefined;
  /** Or the pieces of a long body kept as they came (memoryFor), joined once complete. */
  private parts: Buffer[] | undefined;
  private filled = 0;

  constructor(
    private limit: number = HANDSHAKE_FRAME_LIMIT,
    private readonly reuse?: FrameReuse,
  ) {}

  setLimit(limit: number): void {
    this.limit = limit;
  }

  /** Bytes of a frame begun but not complete (its 4-byte length counts once read). */
  get pendingBytes(): number {
    return this.expected < 0 ? this.lengthFilled : 4 + this.headFilled + this.filled;
  }

  /**
   * Feeds bytes; returns the frames completed by them, in order. `borrowed`: the
   * caller reuses `chunk`'s memory once this returns, so no frame is a view of it.
   */
  push(chunk: Buffer, borrowed = false): Frame[] {
    const frames: Frame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.expected < 0) {
        let n: number;
        if (this.lengthFilled === 0 && chunk.length - at >= 4) {
          n = chunk.readUInt32BE(at);
          at += 4;
        } else {
          const k = Math.min(4 - this.lengthFilled, chunk.length - at);
          chunk.copy(this.lengthBytes, this.lengthFilled, at, at + k);
          this.lengthFilled += k;
          at += k;
          if (this.lengthFilled < 4) break;
          this.lengthFilled = 0;
          n = this.lengthBytes.readUInt32BE(0);
        }
        if (n === 0 || n > this.limit) throw new ProtocolError(`frame length ${n} is outside 1..${this.limit}`);
        this.expected = n;
        continue;
      }
      const n = this.expected;
      if (this.body === undefined && this.parts === undefined) {
        const here = chunk.length - at;
        if (!borrowed && this.headFilled === 0 && here >= n) {
          // The whole body in a chunk nobody reuses: a view of it.
          frames.push({ body: chunk.subarray(at, at + n), release: NOTHING_TO_RELEASE });
          at += n;
          this.expected = -1;
          continue;
        }
        const headBytes = Math.min(n, FRAME_HEAD_BYTES);
        if (this.headFilled === 0 && here >= headBytes) {
          this.choose(n, chunk.subarray(at, at + headBytes));
        } else {
          const k = Math.min(headBytes - this.headFilled, here);
          chunk.copy(this.head, this.headFilled, at, at + k);
          this.headFilled += k;
          at += k;
          if (this.headFilled < headBytes) break;
          const head = this.head.subarray(0, headBytes);
          this.choose(n, head);
          this.append(head, true);
          this.headFilled = 0;
        }
      }
      const k = Math.min(n - this.filled, chunk.length - at);
      this.append(chunk.subarray(at, at + k), borrowed);
      at += k;
      if (this.filled === n) {
        frames.push(this.body ?? { body: Buffer.concat(this.parts!, n), release: NOTHING_TO_RELEASE });
        this.body = undefined;
        this.parts = undefined;
        this.filled = 0;
        this.expected = -1;
      }
    }
    return frames;
  }

  /**
   * Where a body of `n` bytes that begins with `head` goes: a slab, fresh memory, or
   * (long, of another type) the pieces it comes in.
   */
  private choose(n: number, head: Buffer): void {
    const reuse = this.reuse;
    // A body's first byte is its message type.
    // Only where a slab holds it: a longer body is no legitimate frame's, and its memory
    // must not be taken before its bytes come.
    const wanted = reuse !== undefined && n >= reuse.fromBytes && reuse.pool.fits(n) && head[0] === reuse.type
      && (reuse.wants === undefined || reuse.wants((at) => {
        if (at >= head.length) throw new RangeError(`FrameReuse.wants may read bytes 0..${head.length - 1} only, not ${at}`);
        return head[at]!;
      }));
    if (wanted) {
      const slab = reuse.pool.take(n);
      this.body = { body: slab.buffer, release: slab.release };
    } else if (n <= BODY_TAKEN_AT_ONCE) {
      this.body = { body: Buffer.allocUnsafe(n), release: NOTHING_TO_RELEASE };
    } else {
      this.parts = [];
    }
  }

  /** The body's next bytes; `borrowed` ones are copied if kept as they are. */
  private append(bytes: Buffer, borrowed: boolean): void {
    if (this.body !== undefined) bytes.copy(this.body.body, this.filled);
    else this.parts!.push(borrowed ? Buffer.from(bytes) : bytes);
    this.filled += bytes.length;
  }
}
