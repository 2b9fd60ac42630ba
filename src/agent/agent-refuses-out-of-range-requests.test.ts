/**
 * Whatever a client sends, the agent never touches bytes outside the device: a WRITE
 * (or READ, stream, chunk request) past the end, of a hostile length, or with a payload
 * that does not match, is refused with an ERROR frame, the session ends and the image
 * file keeps its size and every byte. Spoken to in raw frames, as a hostile client would.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { Encoding, ErrorCode, MessageType, OpenCodec, type Message } from '../protocol/protocol.js';
import { sha256File, writeImage } from '../test-support/images.js';
import { RawAgentSession, clientHello, encode } from '../test-support/in-memory-agent.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 1024 * 1024;
const BLOCK = 64 * 1024;
let dir: { path: string; remove(): Promise<void> };
let image: string;
let imageSha: string;

before(async () => {
  dir = await makeTempDir('basyn-refuse-');
  image = join(dir.path, 'device.img');
  await writeImage(image, SIZE, 5);
  imageSha = await sha256File(image);
});
after(async () => dir.remove());

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms))),
  ]);
}

function u64Frame(type: number, fields: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from([type]), ...fields]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

function be(bits: 32 | 64, v: number | bigint): Buffer {
  const b = Buffer.alloc(bits / 8);
  if (bits === 32) b.writeUInt32BE(Number(v));
  else b.writeBigUInt64BE(BigInt(v));
  return b;
}

/** Opens the image over a raw session; resolves once OPENED came back. */
async function openedSession(writable = true, blockSize = BLOCK): Promise<RawAgentSession> {
  const s = new RawAgentSession();
  s.send(clientHello());
  s.sendMessage({ type: MessageType.Open, id: 1, writable, hashId: 0, codec: OpenCodec.None, level: 0, rateLimit: 0, blockSize, createSize: 0, path: image });
  const opened = await withTimeout(s.waitForFrame((m) => m.type === MessageType.Opened || m.type === MessageType.Error), 5000, 'OPEN');
  assert.equal(opened?.type, MessageType.Opened, `OPEN failed: ${JSON.stringify(opened)}`);
  return s;
}

const write = (offset: number, rawLength: number, encoding: Encoding, payload: Buffer): Buffer =>
  encode({ type: MessageType.Write, offset, rawLength, encoding, payload });

interface Case {
  name: string;
  bytes: Buffer;
  writable?: boolean;
  code: ErrorCode;
  message: RegExp;
}

const CASES: Case[] = [
  { name: 'a WRITE that runs 100 bytes past the end', bytes: write(SIZE - 100, 4096, Encoding.Raw, Buffer.alloc(4096, 1)), code: ErrorCode.Protocol, message: new RegExp(`WRITE range ${SIZE - 100}\\+4096 is outside the device's ${SIZE} bytes`) },
  { name: 'a WRITE at the end', bytes: write(SIZE, 1, Encoding.Raw, Buffer.alloc(1, 1)), code: ErrorCode.Protocol, message: /WRITE range 1048576\+1 is outside/ },
  { name: 'a zero-encoded WRITE past the end', bytes: write(SIZE + BLOCK, BLOCK, Encoding.Zero, Buffer.alloc(0)), code: ErrorCode.Protocol, message: /WRITE range .* is outside/ },
  { name: 'a WRITE just under 2^53', bytes: write(Number.MAX_SAFE_INTEGER - 10, 4096, Encoding.Raw, Buffer.alloc(4096)), code: ErrorCode.Protocol, message: /WRITE range 9007199254740981\+4096 is outside/ },
  { name: 'a WRITE at offset 2^63', bytes: u64Frame(MessageType.Write, [be(64, 2n ** 63n), be(32, 16), Buffer.from([0]), Buffer.alloc(16)]), code: ErrorCode.Protocol, message: /WRITE frame holds an integer over 2\^53-1/ },
  { name: 'a WRITE of 0 bytes', bytes: write(0, 0, Encoding.Raw, Buffer.alloc(0)), code: ErrorCode.Protocol, message: /length 0 is outside 1\.\.65536/ },
  { name: 'a WRITE longer than the block size agreed at OPEN', bytes: write(0, BLOCK + 1, Encoding.Zero, Buffer.alloc(0)), code: ErrorCode.Protocol, message: /length 65537 is outside 1\.\.65536/ },
  { name: 'a raw WRITE whose payload is shorter than announced', bytes: write(0, 4096, Encoding.Raw, Buffer.alloc(100, 1)), code: ErrorCode.Protocol, message: /raw block of 100 bytes where 4096 were announced/ },
  { name: 'a zlib WRITE that inflates past its announced length', bytes: write(0, 4096, Encoding.Zlib, deflateSync(Buffer.alloc(SIZE, 7))), code: ErrorCode.Protocol, message: /inflates past its announced 4096 bytes/ },
  { name: 'a corrupt zlib WRITE', bytes: write(0, 4096, Encoding.Zlib, Buffer.from('garbage, not zlib')), code: ErrorCode.Protocol, message: /compressed block is corrupt/ },
  { name: 'a WRITE of an unknown encoding', bytes: u64Frame(MessageType.Write, [be(64, 0), be(32, 16), Buffer.from([9]), Buffer.alloc(16)]), code: ErrorCode.Protocol, message: /unknown block encoding 9/ },
  { name: 'a WRITE on a device opened read-only', writable: false, bytes: write(0, 4096, Encoding.Raw, Buffer.alloc(4096, 1)), code: ErrorCode.Device, message: /opened read-only/ },
  { name: 'a WRITE frame over the frame limit', bytes: Buffer.concat([be(32, BLOCK + 65), Buffer.from([MessageType.Write])]), code: ErrorCode.Protocol, message: /frame length 65601 is outside 1\.\.65600/ },
  { name: 'a READ past the end', bytes: encode({ type: MessageType.Read, id: 2, offset: SIZE - 1, length: 2 }), code: ErrorCode.Protocol, message: /READ range 1048575\+2 is outside/ },
  { name: 'a DIGEST_STREAM past the end', bytes: encode({ type: MessageType.DigestStream, id: 2, start: 0, end: SIZE + 1, blockSize: BLOCK, credit: 10, threads: 0 }), code: ErrorCode.Protocol, message: /DIGEST_STREAM range 0\+1048577 is outside/ },
  { name: 'a DIGEST_STREAM whose end is before its start', bytes: encode({ type: MessageType.DigestStream, id: 2, start: BLOCK, end: 0, blockSize: BLOCK, credit: 10, threads: 0 }), code: ErrorCode.Protocol, message: /DIGEST_STREAM range 65536\+-65536 is outside/ },
  { name: 'a READ_STREAM past the end', bytes: encode({ type: MessageType.ReadStream, id: 2, start: SIZE - BLOCK, end: SIZE + BLOCK, blockSize: BLOCK, credit: 10 }), code: ErrorCode.Protocol, message: /READ_STREAM range .* is outside/ },
  { name: 'a CHUNK_DIGESTS past the end', bytes: encode({ type: MessageType.ChunkDigests, id: 2, offset: SIZE - 10, length: BLOCK, chunkSize: 4096 }), code: ErrorCode.Protocol, message: /CHUNK_DIGESTS range .* is outside/ },
  { name: 'a CHUNK_DIGESTS with a chunk of 0 bytes', bytes: encode({ type: MessageType.ChunkDigests, id: 2, offset: 0, length: BLOCK, chunkSize: 0 }), code: ErrorCode.Protocol, message: /chunk size 0 is out of range/ },
  { name: 'a second OPEN', bytes: encode({ type: MessageType.Open, id: 2, writable: true, hashId: 0, codec: OpenCodec.None, level: 0, rateLimit: 0, blockSize: BLOCK, createSize: 2 * SIZE, path: 'another.img' }), code: ErrorCode.Protocol, message: /second OPEN in one session/ },
  { name: 'an agent-to-client message (DATA)', bytes: encode({ type: MessageType.Data, id: 2, offset: 0, rawLength: 4, encoding: Encoding.Raw, payload: Buffer.alloc(4) }), code: ErrorCode.Protocol, message: /unexpected DATA from the client/ },
  { name: 'an unknown message type', bytes: u64Frame(0x55, [be(32, 1)]), code: ErrorCode.Protocol, message: /unknown message type 0x55/ },
];

for (const c of CASES) {
  test(`the agent refuses ${c.name} with an ERROR frame and the image is untouched`, async (t) => {
    const s = await openedSession(c.writable ?? true);
    // A valid WRITE right behind the bad frame, in the same read: it must not get through either.
    s.send(Buffer.concat([c.bytes, write(0, 4096, Encoding.Raw, Buffer.alloc(4096, 0xee))]));
    const error = await withTimeout(s.waitForFrame((m) => m.type === MessageType.Error), 5000, 'the ERROR frame');
    s.end();
    const code = await withTimeout(s.server.done, 5000, 'the agent');
    assert.ok(error !== undefined, `no ERROR frame; frames: ${s.frames.map((m) => m.type).join(',')}`);
    const e = error as Extract<Message, { type: MessageType.Error }>;
    t.diagnostic(e.message);
    assert.equal(e.code, c.code);
    assert.match(e.message, c.message);
    assert.equal(code, 1);
    assert.equal(s.outputError, undefined);
    assert.equal((await stat(image)).size, SIZE);
    assert.equal(await sha256File(image), imageSha, 'the image changed');
  });
}

test('a valid WRITE in range is applied (the harness itself works)', async () => {
  const copy = join(dir.path, 'writable-copy.img');
  await writeImage(copy, SIZE, 5);
  const s = new RawAgentSession();
  s.send(clientHello());
  s.sendMessage({ type: MessageType.Open, id: 1, writable: true, hashId: 0, codec: OpenCodec.None, level: 0, rateLimit: 0, blockSize: BLOCK, createSize: 0, path: copy });
  // The client sends nothing between OPEN and OPENED (docs/protocol.md, section 5).
  assert.equal((await withTimeout(s.waitForFrame((m) => m.type === MessageType.Opened), 5000, 'OPENED'))?.type, MessageType.Opened);
  s.send(write(SIZE - 4096, 4096, Encoding.Raw, Buffer.alloc(4096, 0xab)));
  s.sendMessage({ type: MessageType.Flush, id: 2 });
  const flushed = await withTimeout(s.waitForFrame((m) => m.type === MessageType.Flushed), 5000, 'FLUSHED');
  assert.equal(flushed?.type, MessageType.Flushed);
  s.sendMessage({ type: MessageType.Bye });
  assert.equal(await withTimeout(s.server.done, 5000, 'the agent'), 0);
  const { readFile } = await import('node:fs/promises');
  const data = await readFile(copy);
  assert.equal(data.length, SIZE);
  assert.ok(data.subarray(SIZE - 4096).equals(Buffer.alloc(4096, 0xab)));
});

test('a DIGEST_STREAM with a 1 GiB block size over a 1 MiB device allocates no more than the device', async () => {
  const s = await openedSession(false, 1024 * 1024 * 1024);
  const original = { allocUnsafe: Buffer.allocUnsafe, alloc: Buffer.alloc, allocUnsafeSlow: Buffer.allocUnsafeSlow };
  let largest = 0;
  const spy = <F extends (size: number, ...rest: never[]) => Buffer>(f: F): F =>
    ((size: number, ...rest: never[]) => {
      largest = Math.max(largest, size);
      return f.call(Buffer, size, ...rest);
    }) as F;
  Buffer.allocUnsafe = spy(original.allocUnsafe);
  Buffer.alloc = spy(original.alloc);
  Buffer.allocUnsafeSlow = spy(original.allocUnsafeSlow);
  try {
    s.sendMessage({ type: MessageType.DigestStream, id: 2, start: 0, end: SIZE, blockSize: 1024 * 1024 * 1024, credit: 4, threads: 0 });
    const end = await withTimeout(s.waitForFrame((m) => m.type === MessageType.End || m.type === MessageType.Error), 5000, 'the stream');
    assert.equal(end?.type, MessageType.End, JSON.stringify(end));
  } finally {
    Object.assign(Buffer, original);
  }
  s.sendMessage({ type: MessageType.Bye });
  await withTimeout(s.server.done, 5000, 'the agent');
  assert.ok(largest <= SIZE, `largest allocation ${largest} bytes for a ${SIZE}-byte device`);
});
