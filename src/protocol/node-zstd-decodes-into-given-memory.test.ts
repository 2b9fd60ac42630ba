/**
 * node's own zstd (node 22.15 and later) decompresses into the memory it is given
 * (zstd-builtin-engine.ts drives the stream's handle): the agent's blocks then land in
 * reused slabs instead of fresh buffers node 24 frees late. Run on node 22 and 24 as
 * children: the result is a view of the given memory and equals the block, and every
 * frame that lies (truncated, a wrong checksum, two frames, longer than announced,
 * trailing bytes) is refused as a ProtocolError, with no stray error event after.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { nodeBinary } from '../test-support/node-versions.js';

const execFileAsync = promisify(execFile);

const CHILD = `
const zlib = require('node:zlib');
(async () => {
  const { zstdDecompress, zstdKind } = await import(process.argv[1]);
  const { ProtocolError } = await import(process.argv[2]);
  const N = 300 * 1024;
  const data = Buffer.alloc(N);
  for (let i = 0; i < N; i++) data[i] = (i * 7 % 251) & (i >> 9);
  const frame = (params = {}) => zlib.zstdCompressSync(data, { pledgedSrcSize: N, params });
  const plain = frame();
  const summed = frame({ [zlib.constants.ZSTD_c_checksumFlag]: 1 });
  const into = Buffer.alloc(N, 0xaa);
  const out = await zstdDecompress(plain, N, into);
  const result = { kind: zstdKind, view: out.buffer === into.buffer && out.byteOffset === into.byteOffset, equal: out.equals(data), refused: {} };
  const wrongSum = Buffer.from(summed);
  wrongSum[wrongSum.length - 1] ^= 1;
  const longer = zlib.zstdCompressSync(Buffer.concat([data, data.subarray(0, 10)]));
  const lies = {
    truncated: plain.subarray(0, plain.length - 40),
    'checksum cut off': summed.subarray(0, summed.length - 4),
    'wrong checksum': wrongSum,
    'two frames': Buffer.concat([plain, plain]),
    'trailing bytes': Buffer.concat([plain, Buffer.from('xyz')]),
    'longer, no size announced': longer,
  };
  for (const [name, payload] of Object.entries(lies)) {
    try {
      const got = await zstdDecompress(payload, N, Buffer.alloc(N));
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

for (const major of [22, 24]) {
  test(`node ${major}: zstd decodes into the given memory and refuses every frame that lies`, async (t) => {
    const node = await nodeBinary(major);
    if (typeof node === 'string') return t.skip(node);
    const zstd = new URL('./zstd.js', import.meta.url).href;
    const errors = new URL('../errors.js', import.meta.url).href;
    const { stdout } = await execFileAsync(node.path, ['-e', CHILD, zstd, errors]);
    const r = JSON.parse(stdout) as { kind: string; view: boolean; equal: boolean; refused: Record<string, string> };
    assert.equal(r.kind, 'builtin', `node ${node.version} has zstd of its own`);
    assert.ok(r.equal, 'the block decodes intact');
    assert.ok(r.view, 'into the memory given, not a fresh buffer');
    for (const [name, outcome] of Object.entries(r.refused)) {
      // Node 22's zstd does not say where a frame ends: one whose checksum is cut off
      // has all its content, decoded exactly. Node 24 says so, and it is refused.
      if (name === 'checksum cut off' && major === 22 && outcome === 'accepted, intact') continue;
      assert.match(outcome, /^ProtocolError: /, `${name}: ${outcome}`);
    }
  });
}
