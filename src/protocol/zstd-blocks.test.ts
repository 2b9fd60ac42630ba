/**
 * zstd blocks: every level round-trips through encodeBlock/decodeBlock with this
 * process's zstd and with the WASM build; frames of the other implementation decode
 * (node 24's built-in zstd, run as a child, when it is installed); anything that is not
 * a frame announcing exactly the block's length is refused as ProtocolError before
 * memory is set aside for it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { ProtocolError } from '../errors.js';
import { seededBytes } from '../test-support/images.js';
import { nodeBinary } from '../test-support/node-versions.js';
import { decodeBlock, encodeBlock } from './block-codec.js';
import { Encoding } from './protocol.js';
import { frameContentSize, zstdDecompress, zstdKind } from './zstd.js';
import { loadWasmZstd } from './zstd-wasm.js';

/** Compressible but not trivial: text-like runs with seeded noise. */
function compressible(length: number, seed: number): Buffer {
  const noise = seededBytes(length, seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = noise[i]! % 7 === 0 ? noise[i]! : 97 + ((i >> 5) % 26);
  return out;
}

const BLOCK = 256 * 1024;

for (const level of [1, 3, 9, 19]) {
  test(`zstd level ${level} (${zstdKind}) round-trips a block and makes it smaller`, async () => {
    const data = compressible(BLOCK, level);
    const b = await encodeBlock(data, { codec: 'zstd', level });
    assert.equal(b.encoding, Encoding.Zstd);
    assert.ok(b.payload.length < data.length / 2, `${b.payload.length} bytes`);
    assert.equal(frameContentSize(b.payload), BLOCK);
    assert.ok((await decodeBlock(b.encoding, b.payload, BLOCK)).equals(data));
  });
}

test('zstd sends incompressible blocks raw and zero blocks as markers', async () => {
  const random = seededBytes(BLOCK, 5);
  assert.equal((await encodeBlock(random, { codec: 'zstd', level: 19 })).encoding, Encoding.Raw);
  const zero = await encodeBlock(Buffer.alloc(BLOCK), { codec: 'zstd', level: 1 });
  assert.equal(zero.encoding, Encoding.Zero);
  assert.equal(zero.payload.length, 0);
});

test('the WASM zstd and this process zstd read each other\'s frames, at the smallest and largest block', async () => {
  const wasm = await loadWasmZstd();
  for (const size of [1, 4096 + 7, 1024 * 1024]) {
    const data = compressible(size, size);
    const fromWasm = wasm.compress(data, 3);
    assert.ok((await zstdDecompress(fromWasm, size)).equals(data), `WASM frame of ${size} bytes`);
    const ours = await encodeBlock(data, { codec: 'zstd', level: 3 });
    if (ours.encoding === Encoding.Zstd) assert.ok(wasm.decompress(ours.payload, size).equals(data), `our frame of ${size} bytes`);
  }
});

test("node 24's built-in zstd frames decode here, and ours decode there", async (t) => {
  const node24 = await nodeBinary(24);
  if (typeof node24 === 'string') return t.skip(node24);
  const data = compressible(BLOCK, 24);
  const script = `const z=require('zlib');let b=Buffer.alloc(0);process.stdin.on('data',d=>b=Buffer.concat([b,d])).on('end',()=>{
    const mode=process.argv[1];
    if(mode==='compress')process.stdout.write(z.zstdCompressSync(b,{params:{[z.constants.ZSTD_c_compressionLevel]:3},pledgedSrcSize:b.length}));
    else process.stdout.write(z.zstdDecompressSync(b));});`;
  const theirs = execFileSync(node24.path, ['-e', script, 'compress'], { input: data, maxBuffer: 1 << 24 });
  assert.ok((await zstdDecompress(theirs, BLOCK)).equals(data), 'a built-in frame decodes here');
  const wasm = await loadWasmZstd();
  const back = execFileSync(node24.path, ['-e', script, 'decompress'], { input: wasm.compress(data, 3), maxBuffer: 1 << 24 });
  assert.ok(back.equals(data), 'a WASM frame decodes with the built-in zstd');
});

test('zstd frames that lie are refused as ProtocolError', async () => {
  const data = compressible(BLOCK, 9);
  const good = (await encodeBlock(data, { codec: 'zstd', level: 3 })).payload;
  const refuse = async (payload: Buffer, rawLength: number, message: RegExp): Promise<void> => {
    await assert.rejects(decodeBlock(Encoding.Zstd, payload, rawLength), (e: unknown) => e instanceof ProtocolError && message.test(e.message));
  };
  await refuse(good, BLOCK - 1, /announces 262144 bytes, 262143 were announced/);
  await refuse(good, BLOCK + 1, /announces 262144 bytes, 262145 were announced/);
  await refuse(good.subarray(0, good.length - 5), BLOCK, /zstd block is corrupt/);
  const flipped = Buffer.from(good);
  for (let i = 20; i < flipped.length; i += 7) flipped[i] = flipped[i]! ^ 0x5a;
  await refuse(flipped, BLOCK, /zstd block is corrupt|decompresses to/);
  await refuse(Buffer.alloc(0), BLOCK, /does not start with a zstd frame header/);
  await refuse(Buffer.from('garbage!'), BLOCK, /does not start with a zstd frame header/);
  // Two frames: the second would write past the block.
  await refuse(Buffer.concat([good, good]), BLOCK, /zstd block is corrupt|past its announced/);
});

test('a zstd block decoded into given memory is a view of that memory, and a bad frame there is refused', async () => {
  const data = compressible(BLOCK, 77);
  const b = await encodeBlock(data, { codec: 'zstd', level: 3 });
  const into = Buffer.alloc(BLOCK, 0xaa);
  const out = await decodeBlock(b.encoding, b.payload, BLOCK, into);
  assert.ok(out.equals(data));
  // Either engine decodes into it (node's own: node-zstd-decodes-into-given-memory.test.ts).
  assert.equal(out.buffer, into.buffer);
  const corrupt = Buffer.from(b.payload);
  corrupt.fill(0x5a, 12, 40);
  await assert.rejects(decodeBlock(b.encoding, corrupt, BLOCK, Buffer.alloc(BLOCK)), ProtocolError);
  // Memory of the wrong length is not used.
  const short = Buffer.alloc(BLOCK - 1);
  const again = await decodeBlock(b.encoding, b.payload, BLOCK, short);
  assert.ok(again.equals(data));
  assert.notEqual(again.buffer, short.buffer);
});

test('the WASM engine decompresses into a target, and refuses a frame longer than it', async () => {
  const engine = await loadWasmZstd();
  const data = compressible(BLOCK, 78);
  const frame = engine.compress(data, 1);
  const target = Buffer.alloc(BLOCK);
  assert.equal(engine.decompressInto(frame, target), BLOCK);
  assert.ok(target.equals(data));
  assert.throws(() => engine.decompressInto(frame, Buffer.alloc(BLOCK - 1)));
});
