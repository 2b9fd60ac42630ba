/**
 * The client against a broken or hostile agent: a scripted fake agent answers a real
 * RemoteDevice with truncated frames, wrong lengths, unknown types, digests of the
 * wrong size, data at the wrong offset, a HELLO of another version... Each must end in
 * a clear error (ProtocolError, or TransportError for a link that ends mid-frame) within
 * seconds, never a hang, and closing the device afterwards must not hang either.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import { BasynError, ProtocolError, TransportError } from '../errors.js';
import { hashByName } from '../hash/hash-algorithms.js';
import { Channel } from '../protocol/channel.js';
import {
  DeviceKind, Encoding, ErrorCode, MIN_PROTOCOL_VERSION, MessageType, PROTOCOL_MAGIC, PROTOCOL_VERSION, type Message,
} from '../protocol/protocol.js';
import { encode, fakeAgentLink, type FakeAgentControl } from '../test-support/in-memory-agent.js';
import { RemoteDevice } from './remote-device.js';

const BLOCK = 64 * 1024;
const SIZE = 4 * BLOCK;
const hash = hashByName('SHA1')!;

/** A frame with the given type and body fields, its length computed (or forced). */
function frame(type: number, fields: Buffer = Buffer.alloc(0), length?: number): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length ?? fields.length + 1, 0);
  head[4] = type;
  return Buffer.concat([head, fields]);
}

function hello(version: number, minVersion: number, magic = PROTOCOL_MAGIC): Buffer {
  return encode({ type: MessageType.Hello, magic, version, minVersion, software: `fake agent speaking ${minVersion}..${version}`, capabilities: [] });
}

function opened(id: number, size = SIZE): Message {
  return { type: MessageType.Opened, id, size, kind: DeviceKind.File };
}

type Operation = (d: RemoteDevice) => Promise<unknown>;

const digestAll: Operation = async (d) => {
  for await (const b of d.digests(0, SIZE, BLOCK)) void b;
};
const readAllBlocks: Operation = async (d) => {
  for await (const b of d.blocks(0, SIZE, BLOCK)) void b;
};
const readOne: Operation = (d) => d.read(BLOCK, BLOCK);

interface Case {
  name: string;
  /** The agent's first bytes (default: a correct HELLO). */
  greeting?: Buffer;
  /** Answers to the client's messages after HELLO (default: OPENED for OPEN). */
  respond?: (m: Message, agent: FakeAgentControl) => void;
  /** The agent's output ends right after the greeting. */
  endAfterGreeting?: boolean;
  /** What the client does once connected. */
  operation?: Operation;
  error: typeof ProtocolError | typeof TransportError;
  message: RegExp;
}

/** Opens normally, then hands every other message to `after`. */
function afterOpen(after: (m: Message, agent: FakeAgentControl) => void): (m: Message, agent: FakeAgentControl) => void {
  return (m, agent) => {
    if (m.type === MessageType.Open) agent.send(opened(m.id));
    else if (m.type !== MessageType.Hello) after(m, agent);
  };
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v, 4 * i));
  return b;
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

const CASES: Case[] = [
  {
    name: 'HELLO of a newer protocol version (3..3)',
    greeting: hello(3, 3),
    error: ProtocolError,
    message: new RegExp(`protocol version mismatch: this basyn speaks ${MIN_PROTOCOL_VERSION}\\.\\.${PROTOCOL_VERSION}, the agent on host fake speaks 3\\.\\.3 \\(fake agent speaking 3\\.\\.3\\)`),
  },
  {
    // An agent of before zstd: its HELLO has no capability list, and its OPEN had no codec.
    name: 'HELLO of protocol 1 (an agent without zstd or capabilities)',
    greeting: frame(0x01, Buffer.concat([u32(PROTOCOL_MAGIC), Buffer.from([0, 1, 0, 1]), u32(13), Buffer.from('basyn 0.0.9 1')])),
    error: ProtocolError,
    message: new RegExp(`protocol version mismatch: this basyn speaks 2\\.\\.2, the agent on host fake speaks 1\\.\\.1 \\(basyn 0\\.0\\.9 1\\)`),
  },
  {
    name: 'HELLO of an older protocol version (0..0)',
    greeting: hello(0, 0),
    error: ProtocolError,
    message: new RegExp(`protocol version mismatch: this basyn speaks ${MIN_PROTOCOL_VERSION}\\.\\.${PROTOCOL_VERSION}, the agent on host fake speaks 0\\.\\.0`),
  },
  { name: 'HELLO with a wrong magic number', greeting: hello(1, 1, 0x12345678), error: ProtocolError, message: /did not greet with HELLO/ },
  { name: 'a first frame that is not HELLO', greeting: encode(opened(1)), error: ProtocolError, message: /did not greet with HELLO/ },
  { name: 'a greeting of an unknown message type', greeting: frame(0x7f, Buffer.alloc(8)), error: ProtocolError, message: /bad data from the agent on host fake: unknown message type 0x7f/ },
  { name: 'a frame of length 0', greeting: frame(0x01, Buffer.alloc(0), 0), error: ProtocolError, message: /frame length 0 is outside 1\.\.65536/ },
  { name: 'a frame of length 2^32-1 (nothing allocated)', greeting: frame(0x01, Buffer.alloc(0), 0xffffffff), error: ProtocolError, message: /frame length 4294967295 is outside 1\.\.65536/ },
  { name: 'a frame one byte over the handshake limit', greeting: frame(0x01, Buffer.alloc(0), 65537), error: ProtocolError, message: /frame length 65537 is outside 1\.\.65536/ },
  { name: 'a HELLO frame whose body ends after the magic number', greeting: frame(0x01, u32(PROTOCOL_MAGIC)), error: ProtocolError, message: /truncated HELLO frame/ },
  { name: 'a HELLO whose software string length overruns the frame', greeting: frame(0x01, Buffer.concat([u32(PROTOCOL_MAGIC), Buffer.from([0, 1, 0, 1]), u32(1000), Buffer.from('x')])), error: ProtocolError, message: /truncated HELLO frame/ },
  { name: 'the link ending inside the first frame', greeting: hello(1, 1).subarray(0, 9), endAfterGreeting: true, error: TransportError, message: /connection to the agent on host fake closed/ },
  {
    name: 'the link ending inside a frame after HELLO',
    respond: (m, agent) => {
      if (m.type === MessageType.Hello) {
        agent.sendRaw(encode(opened(1)).subarray(0, 6));
        agent.end();
      }
    },
    error: TransportError,
    message: /connection to the agent on host fake closed/,
  },
  { name: 'OPENED with a truncated body', respond: (m, a) => m.type === MessageType.Open && a.sendRaw(frame(MessageType.Opened, u32(m.id).subarray(0, 3))), error: ProtocolError, message: /truncated OPENED frame/ },
  { name: 'OPENED with extra bytes', respond: (m, a) => m.type === MessageType.Open && a.sendRaw(frame(MessageType.Opened, Buffer.concat([u32(m.id), u64(BigInt(SIZE)), Buffer.from([0, 0xee])]))), error: ProtocolError, message: /OPENED frame has 1 extra bytes/ },
  { name: 'OPENED of an unknown device kind', respond: (m, a) => m.type === MessageType.Open && a.sendRaw(frame(MessageType.Opened, Buffer.concat([u32(m.id), u64(BigInt(SIZE)), Buffer.from([9])]))), error: ProtocolError, message: /unknown device kind 9/ },
  { name: 'OPENED for another request id', respond: (m, a) => m.type === MessageType.Open && a.send(opened(m.id + 77)), error: ProtocolError, message: /OPENED answers no request \(id \d+\)/ },
  { name: 'OPENED with a size over 2^53-1', respond: (m, a) => m.type === MessageType.Open && a.sendRaw(frame(MessageType.Opened, Buffer.concat([u32(m.id), u64(2n ** 60n), Buffer.from([0])]))), error: ProtocolError, message: /OPENED frame holds an integer over 2\^53-1/ },
  { name: 'an ERROR refusing the session', respond: (m, a) => m.type === MessageType.Open && a.send({ type: MessageType.Error, id: 0, code: ErrorCode.Protocol, offset: 0, operation: '', message: 'no thanks' }), error: ProtocolError, message: /the agent on host fake refused the session: no thanks/ },
  { name: 'a client-to-agent message (OPEN) from the agent', respond: (m, a) => m.type === MessageType.Open && a.send({ ...(m as Extract<Message, { type: MessageType.Open }>) }), error: ProtocolError, message: /unexpected OPEN from the agent|expected OPENED/ },
  {
    name: 'DIGESTS whose size is not a multiple of the digest length',
    respond: afterOpen((m, a) => m.type === MessageType.DigestStream && a.send({ type: MessageType.Digests, id: m.id, offset: 0, digests: Buffer.alloc(21) })),
    operation: digestAll,
    error: ProtocolError,
    message: /DIGESTS frame of 21 bytes for 20-byte digests/,
  },
  {
    name: 'DIGESTS with no digest at all',
    respond: afterOpen((m, a) => m.type === MessageType.DigestStream && a.send({ type: MessageType.Digests, id: m.id, offset: 0, digests: Buffer.alloc(0) })),
    operation: digestAll,
    error: ProtocolError,
    message: /DIGESTS frame of 0 bytes for 20-byte digests/,
  },
  {
    name: 'DIGESTS for the wrong offset',
    respond: afterOpen((m, a) => m.type === MessageType.DigestStream && a.send({ type: MessageType.Digests, id: m.id, offset: BLOCK, digests: Buffer.alloc(20) })),
    operation: digestAll,
    error: ProtocolError,
    message: new RegExp(`DIGESTS for offset ${BLOCK}, expected 0`),
  },
  {
    name: 'more digests than the range holds',
    respond: afterOpen((m, a) => m.type === MessageType.DigestStream && a.send({ type: MessageType.Digests, id: m.id, offset: 0, digests: Buffer.alloc(20 * 5) })),
    operation: digestAll,
    error: ProtocolError,
    message: new RegExp(`digest past the end of the range \\(${SIZE}\\)`),
  },
  {
    name: 'END before the range is covered',
    respond: afterOpen((m, a) => m.type === MessageType.DigestStream && a.send({ type: MessageType.End, id: m.id })),
    operation: digestAll,
    error: ProtocolError,
    message: new RegExp(`digest stream ended at offset 0, before ${SIZE}`),
  },
  {
    name: 'DIGESTS for a stream that does not exist',
    respond: afterOpen((m, a) => m.type === MessageType.DigestStream && a.send({ type: MessageType.Digests, id: m.id + 1000, offset: 0, digests: Buffer.alloc(20) })),
    operation: digestAll,
    error: ProtocolError,
    message: /DIGESTS for unknown stream \d+/,
  },
  {
    name: 'an unknown message type in the middle of a stream',
    respond: afterOpen((m, a) => m.type === MessageType.DigestStream && a.sendRaw(frame(0x66, u32(m.id)))),
    operation: digestAll,
    error: ProtocolError,
    message: /bad data from the agent on host fake: unknown message type 0x66/,
  },
  {
    name: 'a frame over the limit agreed at OPEN',
    respond: afterOpen((m, a) => m.type === MessageType.DigestStream && a.sendRaw(frame(MessageType.Digests, Buffer.alloc(0), BLOCK + 65))),
    operation: digestAll,
    error: ProtocolError,
    message: new RegExp(`frame length ${BLOCK + 65} is outside 1\\.\\.${BLOCK + 64}`),
  },
  {
    name: 'DATA at the wrong offset in a block stream',
    respond: afterOpen((m, a) => m.type === MessageType.ReadStream && a.send({ type: MessageType.Data, id: m.id, offset: BLOCK, rawLength: BLOCK, encoding: Encoding.Zero, payload: Buffer.alloc(0) })),
    operation: readAllBlocks,
    error: ProtocolError,
    message: new RegExp(`block at ${BLOCK}\\+${BLOCK}, expected 0\\+${BLOCK}`),
  },
  {
    name: 'DATA of the wrong length in a block stream',
    respond: afterOpen((m, a) => m.type === MessageType.ReadStream && a.send({ type: MessageType.Data, id: m.id, offset: 0, rawLength: 100, encoding: Encoding.Zero, payload: Buffer.alloc(0) })),
    operation: readAllBlocks,
    error: ProtocolError,
    message: new RegExp(`block at 0\\+100, expected 0\\+${BLOCK}`),
  },
  {
    // A tiny zlib payload announcing 4 GiB: refused before any memory is taken for it.
    name: 'DATA announcing a block far over a piece in a block stream',
    respond: afterOpen((m, a) => m.type === MessageType.ReadStream && a.send({ type: MessageType.Data, id: m.id, offset: 0, rawLength: 0xffffffff, encoding: Encoding.Zlib, payload: deflateSync(Buffer.alloc(1000)) })),
    operation: readAllBlocks,
    error: ProtocolError,
    message: /DATA of 4294967295 bytes in a stream of pieces of at most 4194304/,
  },
  {
    name: 'DATA answering READ for another offset',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.send({ type: MessageType.Data, id: m.id, offset: 0, rawLength: BLOCK, encoding: Encoding.Zero, payload: Buffer.alloc(0) })),
    operation: readOne,
    error: ProtocolError,
    message: new RegExp(`DATA for 0\\+${BLOCK}, asked for ${BLOCK}\\+${BLOCK}`),
  },
  {
    name: 'raw DATA shorter than announced',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.send({ type: MessageType.Data, id: m.id, offset: BLOCK, rawLength: BLOCK, encoding: Encoding.Raw, payload: Buffer.alloc(10) })),
    operation: readOne,
    error: ProtocolError,
    message: new RegExp(`raw block of 10 bytes where ${BLOCK} were announced`),
  },
  {
    name: 'corrupt zlib DATA',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.send({ type: MessageType.Data, id: m.id, offset: BLOCK, rawLength: BLOCK, encoding: Encoding.Zlib, payload: Buffer.from('not zlib at all') })),
    operation: readOne,
    error: ProtocolError,
    message: /compressed block is corrupt/,
  },
  {
    name: 'zlib DATA that inflates past its announced length (a zip bomb)',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.send({ type: MessageType.Data, id: m.id, offset: BLOCK, rawLength: BLOCK, encoding: Encoding.Zlib, payload: deflateSync(Buffer.alloc(64 * BLOCK)) })),
    operation: readOne,
    error: ProtocolError,
    message: new RegExp(`compressed block inflates past its announced ${BLOCK} bytes`),
  },
  {
    name: 'corrupt zstd DATA (a frame header announcing the block, then garbage)',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.send({ type: MessageType.Data, id: m.id, offset: BLOCK, rawLength: BLOCK, encoding: Encoding.Zstd, payload: corruptZstd(BLOCK) })),
    operation: readOne,
    error: ProtocolError,
    message: /zstd block is corrupt/,
  },
  {
    name: 'zstd DATA that is not a zstd frame at all',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.send({ type: MessageType.Data, id: m.id, offset: BLOCK, rawLength: BLOCK, encoding: Encoding.Zstd, payload: Buffer.from('not zstd at all') })),
    operation: readOne,
    error: ProtocolError,
    message: /zstd block does not start with a zstd frame header/,
  },
  {
    name: 'zstd DATA whose frame announces more than the block (a zip bomb)',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.send({ type: MessageType.Data, id: m.id, offset: BLOCK, rawLength: BLOCK, encoding: Encoding.Zstd, payload: zstdFrameHeader(2 ** 40) })),
    operation: readOne,
    error: ProtocolError,
    message: new RegExp(`zstd block announces ${2 ** 40} bytes, ${BLOCK} were announced for the block`),
  },
  {
    name: 'zstd DATA whose frame does not announce its size',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.send({ type: MessageType.Data, id: m.id, offset: BLOCK, rawLength: BLOCK, encoding: Encoding.Zstd, payload: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 1, 0, 0]) })),
    operation: readOne,
    error: ProtocolError,
    message: /zstd block does not announce its size/,
  },
  {
    name: 'DATA of an unknown encoding',
    respond: afterOpen((m, a) => m.type === MessageType.Read && a.sendRaw(frame(MessageType.Data, Buffer.concat([u32(m.id), u64(BigInt(BLOCK)), u32(BLOCK), Buffer.from([7])])))),
    operation: readOne,
    error: ProtocolError,
    message: /unknown block encoding 7/,
  },
  {
    name: 'DIGEST_LIST of the wrong size',
    respond: afterOpen((m, a) => m.type === MessageType.ChunkDigests && a.send({ type: MessageType.DigestList, id: m.id, digests: Buffer.alloc(20 * 3) })),
    operation: (d) => d.chunkDigests(0, BLOCK, BLOCK / 4),
    error: ProtocolError,
    message: /DIGEST_LIST of 60 bytes, expected 4 digests of 20 bytes/,
  },
  {
    name: 'FLUSHED with a count over 2^53-1',
    respond: afterOpen((m, a) => m.type === MessageType.Flush && a.sendRaw(frame(MessageType.Flushed, Buffer.concat([u32(m.id), u64(2n ** 63n), u64(0n), u64(BigInt(SIZE))])))),
    operation: (d) => d.flush(),
    error: ProtocolError,
    message: /FLUSHED frame holds an integer over 2\^53-1/,
  },
  {
    name: 'the link ending in the middle of a DIGESTS frame',
    respond: afterOpen((m, a) => {
      if (m.type !== MessageType.DigestStream) return;
      a.sendRaw(encode({ type: MessageType.Digests, id: m.id, offset: 0, digests: Buffer.alloc(40) }).subarray(0, 30));
      a.end();
    }),
    operation: digestAll,
    error: TransportError,
    message: /connection to the agent on host fake closed/,
  },
  {
    name: 'an agent that stops answering after OPENED and closes',
    respond: afterOpen((m, a) => a.end()),
    operation: readAllBlocks,
    error: TransportError,
    message: /connection to the agent on host fake closed/,
  },
];

/** A zstd frame header (single segment, 8-byte content size) announcing `size` bytes. */
function zstdFrameHeader(size: number): Buffer {
  const b = Buffer.alloc(14);
  b.writeUInt32LE(0xfd2fb528, 0);
  b[4] = 0xe0;
  b.writeBigUInt64LE(BigInt(size), 5);
  return b;
}

/** A frame that announces `size` bytes, then a block header and bytes that decode to nothing valid. */
function corruptZstd(size: number): Buffer {
  return Buffer.concat([zstdFrameHeader(size), Buffer.from([0x05, 0x00, 0x00]), Buffer.alloc(64, 0xff)]);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms))),
  ]);
}

for (const c of CASES) {
  test(`a broken agent: ${c.name} -> ${c.error.name}, no hang`, async (t) => {
    const { link, control } = fakeAgentLink(c.respond ?? afterOpen(() => undefined), c.greeting);
    if (c.endAfterGreeting === true) control.end();
    const attempt = async (): Promise<void> => {
      const device = await RemoteDevice.connect(link, { path: '/dev/fake', writable: false, hash, compress: { compress: 'none', level: 0 }, blockSize: BLOCK });
      try {
        if (c.operation === undefined) throw new Error('connected, but this case expects the handshake to fail');
        await c.operation(device);
      } finally {
        await withTimeout(device.close(), 5000, 'close()');
      }
    };
    const error = await withTimeout(attempt().then(() => undefined, (e: unknown) => e), 5000, 'the client');
    assert.ok(error instanceof c.error, `expected ${c.error.name}, got ${String(error)}`);
    assert.ok(error instanceof BasynError && error.exitCode === 2);
    t.diagnostic(error.message);
    assert.match(error.message, c.message);
    assert.doesNotMatch(error.message, /\n/);
  });
}

test('a peer that sends half a frame and then nothing: the channel ends the session after its stall time', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  const closed = new Promise<ProtocolError | undefined>((resolve) => {
    new Channel(input, output, { message: () => undefined, closed: resolve }, 65536, 200);
  });
  input.write(encode(opened(1)).subarray(0, 7));
  const started = Date.now();
  const error = await withTimeout(closed, 5000, 'the channel');
  assert.ok(error instanceof ProtocolError);
  assert.match(error.message, /no data for 0\.2 s in the middle of a frame/);
  assert.ok(Date.now() - started < 2000);
});
