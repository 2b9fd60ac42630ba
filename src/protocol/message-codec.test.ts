/**
 * encodeMessage/decodeMessage: a round trip of every message type, and
 * ProtocolError (never a RangeError or a wrong message) for truncated frames, extra
 * bytes, unknown types and encodings, and integers over 2^53-1.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../errors.js';
import {
  DeviceKind, Encoding, ErrorCode, FrameDecoder, MessageType, NO_OFFSET, OpenCodec, PROTOCOL_MAGIC, PROTOCOL_VERSION,
  decodeMessage, encodeMessage, messageName, type Message,
} from './protocol.js';

const BIG = 2 ** 53 - 1;

/** One or more samples of every message type, with edge values. */
const samples: Message[] = [
  { type: MessageType.Hello, magic: PROTOCOL_MAGIC, version: PROTOCOL_VERSION, minVersion: 1, software: 'basyn 0.1.0 node v20.0.0 ünï', capabilities: [{ id: 1, value: Buffer.from([0, 1, 2, 3]) }, { id: 200, value: Buffer.alloc(0) }] },
  { type: MessageType.Hello, magic: 0, version: 65535, minVersion: 0, software: '', capabilities: [] },
  { type: MessageType.Open, id: 1, writable: true, hashId: 7, codec: OpenCodec.Zstd, level: 19, rateLimit: 20 * 1024 * 1024, blockSize: 2 * 1024 * 1024, createSize: 0, path: "/dev/disk with 'quotes' $(x) 雪" },
  { type: MessageType.Open, id: 0xffffffff, writable: false, hashId: 0, codec: OpenCodec.Auto, level: 0, rateLimit: BIG, blockSize: 1, createSize: BIG, path: '' },
  { type: MessageType.Opened, id: 2, size: BIG, kind: DeviceKind.BlockDevice },
  { type: MessageType.Opened, id: 3, size: 0, kind: DeviceKind.File },
  { type: MessageType.DigestStream, id: 4, start: 0, end: BIG, blockSize: 4096, credit: 4096, threads: 3 },
  { type: MessageType.Digests, id: 5, offset: 1 << 30, digests: Buffer.alloc(40, 0xab) },
  { type: MessageType.Credit, id: 6, blocks: 2048 },
  { type: MessageType.End, id: 7 },
  { type: MessageType.ChunkDigests, id: 8, offset: 65536, length: 65536, chunkSize: 4096 },
  { type: MessageType.DigestList, id: 9, digests: Buffer.alloc(16 * 20, 1) },
  { type: MessageType.DigestList, id: 9, digests: Buffer.alloc(0) },
  { type: MessageType.Read, id: 10, offset: BIG - 10, length: 10 },
  { type: MessageType.ReadStream, id: 11, start: 100, end: 200, blockSize: 64, credit: 2 },
  { type: MessageType.Data, id: 12, offset: 4096, rawLength: 5, encoding: Encoding.Raw, payload: Buffer.from('abcde') },
  { type: MessageType.Data, id: 13, offset: 0, rawLength: 1 << 20, encoding: Encoding.Zero, payload: Buffer.alloc(0) },
  { type: MessageType.Write, offset: 8192, rawLength: 3, encoding: Encoding.Zlib, payload: Buffer.from([0x78, 0x9c, 1, 2]) },
  { type: MessageType.Flush, id: 14 },
  { type: MessageType.Flushed, id: 15, bytesRead: BIG, bytesWritten: 0, size: 12345 },
  { type: MessageType.Error, id: 0, code: ErrorCode.Device, offset: NO_OFFSET, operation: 'write', message: 'ENOSPC: no space left on device' },
  { type: MessageType.Error, id: 16, code: ErrorCode.Protocol, offset: 0, operation: '', message: '' },
  { type: MessageType.Bye },
  { type: MessageType.UndoOpen, id: 17, path: 'before friday.undo 雪' },
  { type: MessageType.UndoFinish, id: 18 },
  { type: MessageType.UndoState, id: 19, entries: BIG, dataBytes: 0, fileSize: 40 },
];

/** Message types whose last field is `rest` (a payload running to the end of the frame). */
const WITH_PAYLOAD = new Set<number>([MessageType.Digests, MessageType.DigestList, MessageType.Data, MessageType.Write]);

function body(m: Message): Buffer {
  const frame = Buffer.concat(encodeMessage(m));
  assert.equal(frame.readUInt32BE(0), frame.length - 4, `${messageName(m.type)}: length prefix`);
  return frame.subarray(4);
}

/** The fixed fields of a message's body (without a trailing payload). */
function head(m: Message): Buffer {
  return encodeMessage(m)[0]!.subarray(4);
}

describe('message codec', () => {
  test('the samples cover every message type', () => {
    const known: number[] = [];
    for (let t = 0; t < 256; t++) if (!messageName(t).startsWith('unknown')) known.push(t);
    assert.deepEqual([...new Set(samples.map((m) => m.type))].sort((a, b) => a - b), known);
  });

  for (const m of samples) {
    test(`${messageName(m.type)} survives encode and decode`, () => {
      assert.deepEqual(decodeMessage(body(m)), m);
    });
  }

  test('all samples in one stream, through the FrameDecoder, decode in order', () => {
    const stream = Buffer.concat(samples.flatMap((m) => encodeMessage(m)));
    const d = new FrameDecoder(1 << 21);
    const out: Message[] = [];
    for (let at = 0; at < stream.length; at += 3) out.push(...d.push(stream.subarray(at, at + 3)).map((f) => decodeMessage(f.body)));
    assert.deepEqual(out, samples);
  });

  for (const m of samples) {
    const fixed = head(m);
    if (fixed.length <= 1) continue;
    // A HELLO that ends right after its software string is a protocol-1 HELLO (no capabilities).
    const v1End = m.type === MessageType.Hello ? 13 + Buffer.byteLength(m.software) : -1;
    test(`${messageName(m.type)} cut short anywhere in its fields throws ProtocolError`, () => {
      for (let n = 1; n < fixed.length; n++) {
        if (n === v1End) continue;
        assert.throws(() => decodeMessage(fixed.subarray(0, n)), ProtocolError, `cut to ${n} of ${fixed.length} bytes`);
      }
    });
  }

  for (const m of samples.filter((x) => !WITH_PAYLOAD.has(x.type))) {
    test(`${messageName(m.type)} with an extra byte throws ProtocolError`, () => {
      assert.throws(() => decodeMessage(Buffer.concat([body(m), Buffer.from([0])])), (e: unknown) => e instanceof ProtocolError && /extra/.test(e.message));
    });
  }

  test('a string length past the end of the frame throws ProtocolError', () => {
    const b = Buffer.from(body(samples[0]!));
    b.writeUInt32BE(0x7fffffff, 9); // the software string's length
    assert.throws(() => decodeMessage(b), ProtocolError);
  });

  test('an unknown message type throws ProtocolError', () => {
    for (const t of [0x00, 0x02, 0x20, 0xff]) assert.throws(() => decodeMessage(Buffer.from([t, 0, 0, 0, 0])), ProtocolError);
  });

  test('an empty body throws ProtocolError', () => {
    assert.throws(() => decodeMessage(Buffer.alloc(0)), ProtocolError);
  });

  test('a protocol-1 HELLO (ending after its software string) decodes with no capabilities', () => {
    const b = Buffer.concat([Buffer.from([MessageType.Hello]), Buffer.from('4253594e00010001', 'hex'), Buffer.from([0, 0, 0, 2]), Buffer.from('v1')]);
    assert.deepEqual(decodeMessage(b), { type: MessageType.Hello, magic: PROTOCOL_MAGIC, version: 1, minVersion: 1, software: 'v1', capabilities: [] });
  });

  test('an OPEN asking for an unknown codec throws ProtocolError', () => {
    const b = Buffer.from(body(samples.find((m) => m.type === MessageType.Open)!));
    b[1 + 4 + 1 + 1] = 2; // the codec byte: 2 is the zero marker, not a codec
    assert.throws(() => decodeMessage(b), (e: unknown) => e instanceof ProtocolError && /unknown codec 2/.test(e.message));
  });

  test('an unknown block encoding throws ProtocolError', () => {
    const b = Buffer.from(body(samples.find((m) => m.type === MessageType.Data)!));
    b[1 + 4 + 8 + 4] = 4;
    assert.throws(() => decodeMessage(b), /encoding/);
  });

  test('an unknown device kind throws ProtocolError', () => {
    const b = Buffer.from(body(samples.find((m) => m.type === MessageType.Opened)!));
    b[b.length - 1] = 9;
    assert.throws(() => decodeMessage(b), ProtocolError);
  });

  test('a u64 over 2^53-1 throws ProtocolError', () => {
    const b = Buffer.from(body({ type: MessageType.Read, id: 1, offset: 0, length: 1 }));
    b.writeBigUInt64BE(2n ** 53n, 5);
    assert.throws(() => decodeMessage(b), /2\^53/);
  });
});
