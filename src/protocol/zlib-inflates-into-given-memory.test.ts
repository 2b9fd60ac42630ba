/**
 * A zlib block with memory to land in (a READ's answer on the command) inflates into
 * that memory (zlib-into.ts drives node's Inflate handle), on every node the command
 * runs on: the result is a view of the given memory and equals the block, and every
 * stream that lies (truncated, corrupt, longer or shorter than announced, trailing
 * bytes, two streams) is refused as a ProtocolError, with no stray error event after.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { nodeBinary } from '../test-support/node-versions.js';
import { Encoding } from './protocol.js';

const execFileAsync = promisify(execFile);

const CHILD = `
const zlib = require('node:zlib');
(async () => {
  const { decodeBlock } = await import(process.argv[1]);
  const { ProtocolError } = await import(process.argv[2]);
  const ZLIB = Number(process.argv[3]); // Encoding.Zlib
  const N = 300 * 1024;
  const data = Buffer.alloc(N);
  for (let i = 0; i < N; i++) data[i] = (i * 7 % 251) & (i >> 9);
  const plain = zlib.deflateSync(data, { level: 6 });
  const into = Buffer.alloc(N + 100, 0xaa);
  const out = await decodeBlock(ZLIB, plain, N, into);
  const result = { view: out.buffer === into.buffer && out.byteOffset === into.byteOffset, equal: out.equals(data), beyond: into[N] === 0xaa, refused: {} };
  const corrupt = Buffer.from(plain);
  corrupt[Math.floor(corrupt.length / 2)] ^= 0xff;
  const badSum = Buffer.from(plain);
  badSum[badSum.length - 1] ^= 1;
  const lies = {
    truncated: plain.subarray(0, plain.length - 40),
    'checksum cut off': plain.subarray(0, plain.length - 2),
    corrupt,
    'wrong checksum': badSum,
    'longer than announced': zlib.deflateSync(Buffer.concat([data, data.subarray(0, 10)])),
    'shorter than announced': zlib.deflateSync(data.subarray(0, N - 10)),
    'two streams': Buffer.concat([plain, plain]),
    'trailing bytes': Buffer.concat([plain, Buffer.from('xyz')]),
    empty: Buffer.alloc(0),
  };
  for (const [name, payload] of Object.entries(lies)) {
    try {
      const got = await decodeBlock(ZLIB, payload, N, Buffer.alloc(N));
      result.refused[name] = got.equals(data) ? 'accepted, intact' : 'accepted, wrong';
    } catch (e) {
      result.refused[name] = e instanceof ProtocolError ? 'ProtocolError: ' + e.message : 'other: ' + e.message;
    }
  }
  // A stray 'error' event of a stream would end the process here.
  await new Promise((r) => setTimeout(r, 100));
  process.stdout.write(JSON.stringify(result));
})();
`;

for (const major of [20, 22, 24]) {
  test(`node ${major}: zlib inflates into the given memory and refuses every stream that lies`, async (t) => {
    const node = major === Number(process.versions.node.split('.')[0]) ? { path: process.execPath } : await nodeBinary(major);
    if (typeof node === 'string') return t.skip(node);
    const codec = new URL('./block-codec.js', import.meta.url).href;
    const errors = new URL('../errors.js', import.meta.url).href;
    const { stdout } = await execFileAsync(node.path, ['-e', CHILD, codec, errors, String(Encoding.Zlib)]);
    const r = JSON.parse(stdout) as { view: boolean; equal: boolean; beyond: boolean; refused: Record<string, string> };
    assert.ok(r.equal, 'the block inflates intact');
    assert.ok(r.view, 'into the memory given, not a fresh buffer');
    assert.ok(r.beyond, 'nothing is written past the block');
    for (const [name, outcome] of Object.entries(r.refused)) assert.match(outcome, /^ProtocolError: /, `${name}: ${outcome}`);
  });
}
