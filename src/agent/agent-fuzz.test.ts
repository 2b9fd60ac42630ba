/**
 * Fuzzing the agent: valid frame sequences (HELLO, OPEN of an image, then streams,
 * reads, writes, flushes) mutated at random (lengths, types, fields, bit flips,
 * truncation, garbage), plus sequences of only invalid frames after a valid OPEN, fed
 * to an in-process AgentServer. For every case:
 *  - nothing is written outside the device: the agent sees the first 48 KiB of a
 *    64 KiB image, and the file's size and last 16 KiB (a guard region) never change;
 *    after only invalid frames, no byte of the file changes;
 *  - no allocation is driven by a hostile length (nothing above 1 MiB is allocated for
 *    a 48 KiB device and frames of at most 64 KiB);
 *  - it never hangs: once the input ends, the session is over within a timeout;
 *  - what it sends always decodes, and a session that fails says so with an ERROR
 *    frame, unless its input ended in the middle of a frame (nobody left to tell).
 *
 * The seed is printed; BASYN_FUZZ_SEED replays a run, BASYN_FUZZ_CASES changes its size.
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import type { Device } from '../device/device.js';
import { LocalDevice, type LocalDeviceOptions } from '../device/local-device.js';
import { DeviceError } from '../errors.js';
import {
  Encoding, FrameDecoder, HANDSHAKE_FRAME_LIMIT, MIN_PROTOCOL_VERSION, MessageType, OpenCodec, PROTOCOL_MAGIC, PROTOCOL_VERSION,
  type Message,
} from '../protocol/protocol.js';
import { FaultDevice } from '../test-support/fault-device.js';
import { seededBytes } from '../test-support/images.js';
import { RawAgentSession, encode } from '../test-support/in-memory-agent.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { prng } from '../test-support/prng.js';

const FILE_SIZE = 64 * 1024;
const DEVICE_SIZE = 48 * 1024;
const MAX_ALLOCATION = 1024 * 1024;
const CASE_TIMEOUT_MS = 5000;
const SEED = process.env.BASYN_FUZZ_SEED !== undefined ? Number(process.env.BASYN_FUZZ_SEED) : Date.now() % 2 ** 31;
const CASES = Number(process.env.BASYN_FUZZ_CASES ?? 10_000);

class Random {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const HASH_IDS = [0, 7, 8, 2];

interface Session {
  /** HELLO and OPEN: sent first; the rest waits for OPENED (the client sends nothing in between). */
  opening: Buffer[];
  rest: Buffer[];
}

function hello(): Buffer {
  return encode({ type: MessageType.Hello, magic: PROTOCOL_MAGIC, version: PROTOCOL_VERSION, minVersion: MIN_PROTOCOL_VERSION, software: 'fuzz', capabilities: [] });
}

function open(path: string, writable: boolean, blockSize: number, hashId: number, zlevel: number): Buffer {
  return encode({ type: MessageType.Open, id: 1, writable, hashId, codec: OpenCodec.Zlib, level: zlevel, rateLimit: 0, blockSize, createSize: 0, path });
}

/** A valid session: requests within the device and the block size. */
function validSession(r: Random, path: string): Session {
  const blockSize = r.pick([512, 4096, 16384]);
  const hashId = r.pick(HASH_IDS);
  const writable = r.chance(0.6);
  const opening = [hello(), open(path, writable, blockSize, hashId, r.int(10))];
  const rest: Buffer[] = [];
  let id = 2;
  const span = (): [number, number] => {
    const start = r.int(DEVICE_SIZE);
    return [start, r.range(start + 1, Math.min(DEVICE_SIZE, start + 8 * blockSize))];
  };
  for (let n = r.range(1, 8); n > 0; n--) {
    const kind = r.int(writable ? 8 : 6);
    if (kind === 0) {
      const [start, end] = span();
      const streamId = id++;
      rest.push(encode({ type: MessageType.DigestStream, id: streamId, start, end, blockSize: r.range(1, blockSize), credit: r.range(0, 16), threads: r.chance(0.02) ? 2 : r.int(2) }));
      if (r.chance(0.5)) rest.push(encode({ type: MessageType.Credit, id: streamId, blocks: r.range(1, 64) }));
    } else if (kind === 1) {
      const [start, end] = span();
      const streamId = id++;
      rest.push(encode({ type: MessageType.ReadStream, id: streamId, start, end, blockSize: r.range(1, blockSize), credit: r.range(0, 16) }));
      if (r.chance(0.5)) rest.push(encode({ type: MessageType.Credit, id: streamId, blocks: r.range(1, 64) }));
    } else if (kind === 2) {
      const offset = r.int(DEVICE_SIZE);
      rest.push(encode({ type: MessageType.Read, id: id++, offset, length: r.range(1, Math.min(blockSize, DEVICE_SIZE - offset)) }));
    } else if (kind === 3) {
      const offset = r.int(DEVICE_SIZE);
      const length = r.range(1, Math.min(blockSize, DEVICE_SIZE - offset));
      rest.push(encode({ type: MessageType.ChunkDigests, id: id++, offset, length, chunkSize: r.range(1, length) }));
    } else if (kind === 4) {
      rest.push(encode({ type: MessageType.Flush, id: id++ }));
    } else if (kind === 5) {
      rest.push(encode({ type: MessageType.Credit, id: r.range(1, id), blocks: r.range(1, 1000) }));
    } else {
      const offset = r.int(DEVICE_SIZE);
      const rawLength = r.range(1, Math.min(blockSize, DEVICE_SIZE - offset));
      const data = r.chance(0.3) ? Buffer.alloc(rawLength) : Buffer.alloc(rawLength, r.int(256));
      const zero = data[0] === 0;
      const encoding = zero && r.chance(0.5) ? Encoding.Zero : r.pick([Encoding.Raw, Encoding.Zlib]);
      const payload = encoding === Encoding.Raw ? data : encoding === Encoding.Zlib ? deflateSync(data) : Buffer.alloc(0);
      rest.push(encode({ type: MessageType.Write, offset, rawLength, encoding, payload }));
    }
  }
  if (r.chance(0.3)) rest.push(encode({ type: MessageType.Flush, id: id++ }));
  if (r.chance(0.5)) rest.push(encode({ type: MessageType.Bye }));
  return { opening, rest };
}

const U32_EDGES = [0, 1, 2, 255, 4096, DEVICE_SIZE - 1, DEVICE_SIZE, DEVICE_SIZE + 1, FILE_SIZE, 65536, 65537, 0x7fffffff, 0x80000000, 0xffffffff];
const U64_EDGES = [0n, 1n, BigInt(DEVICE_SIZE - 1), BigInt(DEVICE_SIZE), BigInt(DEVICE_SIZE + 1), BigInt(FILE_SIZE), 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
const TYPES = [0x00, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x7f, 0xff];

/** One random mutation of a list of frames (in place). */
function mutate(r: Random, frames: Buffer[]): string {
  if (frames.length === 0 || frames.every((f) => f.length === 0)) {
    frames.push(r.bytes(r.range(1, 64)));
    return 'garbage';
  }
  const i = r.int(frames.length);
  const f = Buffer.from(frames[i]!);
  switch (r.int(11)) {
    case 0: {
      for (let k = r.range(1, 4); k > 0; k--) f[r.int(f.length)] ^= 1 << r.int(8);
      frames[i] = f;
      return 'bit flips';
    }
    case 1: {
      if (f.length >= 9) f.writeUInt32BE(r.pick(U32_EDGES), 5 + r.int(f.length - 8));
      frames[i] = f;
      return 'u32 field edge';
    }
    case 2: {
      if (f.length >= 13) f.writeBigUInt64BE(r.pick(U64_EDGES), 5 + r.int(f.length - 12));
      frames[i] = f;
      return 'u64 field edge';
    }
    case 3: {
      if (f.length >= 5) f[4] = r.pick(TYPES);
      frames[i] = f;
      return 'type';
    }
    case 4: {
      if (f.length < 4) return 'length prefix (frame too short)';
      const n = f.readUInt32BE(0);
      f.writeUInt32BE(r.pick([0, 1, n - 1, n + 1, n + 64, 65536, 65537, 0x7fffffff, 0xffffffff, r.int(2 ** 32)]) >>> 0, 0);
      frames[i] = f;
      return 'length prefix';
    }
    case 5:
      frames[i] = f.subarray(0, r.int(f.length));
      frames.length = i + 1;
      return 'truncated';
    case 6:
      frames.splice(i, 0, Buffer.from(f));
      return 'duplicated';
    case 7:
      frames.splice(i, 1);
      return 'dropped';
    case 8: {
      const j = r.int(frames.length);
      [frames[i], frames[j]] = [frames[j]!, frames[i]!];
      return 'swapped';
    }
    case 9:
      frames.splice(i, 0, r.bytes(r.range(1, 40)));
      return 'random bytes';
    default: {
      const at = r.int(f.length + 1);
      frames[i] = Buffer.concat([f.subarray(0, at), r.bytes(r.range(1, 16)), f.subarray(at)]);
      return 'inserted bytes';
    }
  }
}

/** Frames that are invalid by construction, sent after a valid writable OPEN. */
function invalidFrames(r: Random, blockSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let n = r.range(1, 5); n > 0; n--) {
    const len = r.range(1, blockSize);
    switch (r.int(8)) {
      case 0: // past the end
        out.push(encode({ type: MessageType.Write, offset: r.range(DEVICE_SIZE - len + 1, DEVICE_SIZE + 5 * blockSize), rawLength: len, encoding: Encoding.Raw, payload: Buffer.alloc(len, 0x5a) }));
        break;
      case 1: // far past the end
        out.push(encode({ type: MessageType.Write, offset: r.pick([FILE_SIZE, Number.MAX_SAFE_INTEGER - len, 2 ** 40]), rawLength: len, encoding: Encoding.Zero, payload: Buffer.alloc(0) }));
        break;
      case 2: // payload length differs from the announced one
        out.push(encode({ type: MessageType.Write, offset: 0, rawLength: len, encoding: Encoding.Raw, payload: Buffer.alloc(len + r.pick([-1, 1, 7]) || 2, 0x5a) }));
        break;
      case 3: // zlib that inflates past the announced length
        out.push(encode({ type: MessageType.Write, offset: 0, rawLength: len, encoding: Encoding.Zlib, payload: deflateSync(Buffer.alloc(len + 1 + r.int(4096), 0x5a)) }));
        break;
      case 4: // a length over the block size
        out.push(encode({ type: MessageType.Write, offset: 0, rawLength: blockSize + r.range(1, 100), encoding: Encoding.Zero, payload: Buffer.alloc(0) }));
        break;
      case 5: { // an unknown encoding
        const f = encode({ type: MessageType.Write, offset: 0, rawLength: 4, encoding: Encoding.Raw, payload: Buffer.alloc(4, 0x5a) });
        f[17] = r.range(3, 255);
        out.push(f);
        break;
      }
      case 6: { // a frame over the limit, or an unknown type
        const f = Buffer.alloc(5);
        f.writeUInt32BE(r.chance(0.5) ? Math.max(HANDSHAKE_FRAME_LIMIT, blockSize + 64) + r.range(1, 1000) : 1, 0);
        f[4] = r.chance(0.5) ? MessageType.Write : r.pick([0x00, 0x20, 0x7f, 0xff]);
        out.push(f);
        break;
      }
      default: { // a WRITE whose body ends before its fields do
        const f = encode({ type: MessageType.Write, offset: 0, rawLength: 4, encoding: Encoding.Raw, payload: Buffer.alloc(4, 0x5a) });
        const cut = r.range(1, 12);
        f.writeUInt32BE(cut, 0);
        out.push(f.subarray(0, 4 + cut));
        break;
      }
    }
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms))),
  ]);
}

/** Whether a byte stream, cut into frames with no limit, ends inside a frame. */
function endsInsideFrame(bytes: Buffer): boolean {
  const d = new FrameDecoder(2 ** 32);
  try {
    d.push(bytes);
  } catch {
    return false;
  }
  return d.pendingBytes > 0;
}

/** Whether `bytes` holds at least `count` complete frames. */
function isWholeFrames(bytes: Buffer, count: number): boolean {
  const d = new FrameDecoder(HANDSHAKE_FRAME_LIMIT);
  try {
    return d.push(bytes).length >= count;
  } catch {
    return false;
  }
}

test(`agent fuzz: ${CASES} random and mutated frame sequences never write outside the device, over-allocate or hang`, async (t) => {
  console.log(`agent fuzz: seed ${SEED} (BASYN_FUZZ_SEED=${SEED} replays it), ${CASES} cases`);
  t.diagnostic(`seed ${SEED}`);
  const dir = await makeTempDir('basyn-fuzz-');
  const image = join(dir.path, 'device.img');
  const original = seededBytes(FILE_SIZE, SEED);
  await writeFile(image, original);
  const guard = original.subarray(DEVICE_SIZE);
  const openDevice = async (path: string, o: LocalDeviceOptions): Promise<Device> => {
    if (path !== image || o.createSize !== undefined) {
      throw new DeviceError(`cannot open remote device ${path}: this test opens only its image, without --create`, { operation: 'open' });
    }
    return new FaultDevice(await LocalDevice.open(path, o), { size: DEVICE_SIZE });
  };

  const alloc = { allocUnsafe: Buffer.allocUnsafe, alloc: Buffer.alloc, allocUnsafeSlow: Buffer.allocUnsafeSlow };
  let largest = 0;
  const spy = <F extends (size: number, ...rest: never[]) => Buffer>(f: F): F =>
    ((size: number, ...rest: never[]) => {
      if (size > largest) largest = size;
      return f.call(Buffer, size, ...rest);
    }) as F;
  Buffer.allocUnsafe = spy(alloc.allocUnsafe);
  Buffer.alloc = spy(alloc.alloc);
  Buffer.allocUnsafeSlow = spy(alloc.allocUnsafeSlow);

  /** Descriptors open on the image: a device the agent forgot to close. */
  const imageHandles = (): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === image;
      } catch {
        return false;
      }
    }).length;
  const r = new Random(prng(SEED));
  const outcomes = new Map<string, number>();
  const count = (key: string): void => void outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  const started = Date.now();
  try {
    for (let n = 0; n < CASES; n++) {
      const onlyInvalid = r.chance(0.2);
      const session = validSession(r, image);
      let what: string;
      if (onlyInvalid) {
        session.opening[1] = open(image, true, 4096, 0, r.int(10));
        session.rest = invalidFrames(r, 4096);
        what = 'only invalid frames after OPEN';
      } else {
        const mutations: string[] = [];
        for (let k = r.range(1, 3); k > 0; k--) {
          // Mostly after OPEN, where the state is richest; sometimes the handshake itself.
          mutations.push(mutate(r, r.chance(0.15) ? session.opening : session.rest));
        }
        what = mutations.join(', ');
      }
      const context = `case ${n} (seed ${SEED}; ${what})`;
      largest = 0;
      const s = new RawAgentSession({ openDevice });
      const openingBytes = Buffer.concat(session.opening);
      const restBytes = Buffer.concat(session.rest);
      s.send(openingBytes);
      // A client waits for OPENED before it sends more. A mangled opening may hold no
      // complete OPEN: then nothing answers until the input ends, so don't wait.
      if (isWholeFrames(openingBytes, 2)) {
        await withTimeout(s.waitForFrame((m) => m.type === MessageType.Opened || m.type === MessageType.Error), CASE_TIMEOUT_MS, `${context}: the answer to OPEN`);
      }
      s.send(restBytes);
      s.end();
      const code = await withTimeout(s.server.done, CASE_TIMEOUT_MS, `${context}: the session`);
      await withTimeout(s.outputEnded, CASE_TIMEOUT_MS, `${context}: the agent's output`);

      assert.equal(s.outputError, undefined, `${context}: the agent sent a frame that does not decode: ${String(s.outputError)}`);
      const error = s.frames.find((m) => m.type === MessageType.Error) as Extract<Message, { type: MessageType.Error }> | undefined;
      if (code !== 0) {
        assert.ok(error !== undefined || endsInsideFrame(Buffer.concat([openingBytes, restBytes])), `${context}: the session failed (exit ${code}) without an ERROR frame`);
      }
      assert.ok(largest <= MAX_ALLOCATION, `${context}: allocated ${largest} bytes`);
      const now = await readFile(image);
      assert.equal(now.length, FILE_SIZE, `${context}: the image changed size`);
      assert.ok(now.subarray(DEVICE_SIZE).equals(guard), `${context}: bytes past the device's end changed`);
      if (onlyInvalid) assert.ok(now.equals(original), `${context}: invalid frames changed the image`);
      else if (!now.equals(original)) await writeFile(image, original);
      assert.equal(imageHandles(), 0, `${context}: the image is still open after the session ended`);
      count(code === 0 ? 'clean end' : error !== undefined ? `ERROR code ${error.code}` : 'input ended inside a frame');
    }
  } finally {
    Object.assign(Buffer, alloc);
    await dir.remove();
  }
  const summary = [...outcomes].map(([k, v]) => `${k}: ${v}`).join(', ');
  console.log(`agent fuzz: ${CASES} cases in ${((Date.now() - started) / 1000).toFixed(1)} s (${summary})`);
});
