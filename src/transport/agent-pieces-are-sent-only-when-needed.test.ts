/**
 * What the client writes after starting the agent: the agent script, then only the
 * pieces (WebAssembly modules) the run's digest needs, then a zero length. A SHA1 run
 * sends no WebAssembly at all, and an XXH128 run costs less than 20 kB more.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { piecesForRun } from '../api/open-devices.js';
import { hashByName } from '../hash/hash-algorithms.js';
import { zstdKind } from '../protocol/zstd.js';
import { framedAgentScript } from './agent-bootstrap.js';

/** The inflated frames, up to the zero length (which must be the last 4 bytes). */
function frames(bytes: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const length = bytes.readUInt32BE(at);
    at += 4;
    if (length === 0) break;
    out.push(inflateRawSync(bytes.subarray(at, at + length)).toString('utf8'));
    at += length;
  }
  assert.equal(at, bytes.length, 'bytes after the end of the frames');
  return out;
}

/** The start of any WebAssembly module ("\0asm"), as base64 in a JavaScript source. */
const WASM_IN_BASE64 = 'AGFzbQ';

describe('agent pieces', () => {
  test('a run hashing with node:crypto sends the agent alone, with no WebAssembly in it', () => {
    for (const name of ['SHA1', 'SHA256', 'BLAKE2B', 'MD5']) assert.deepEqual(piecesForRun({ hash: hashByName(name)!, compress: 'zlib' }), [], name);
    const sent = frames(framedAgentScript(piecesForRun({ hash: hashByName('SHA1')!, compress: 'zlib' })));
    assert.equal(sent.length, 1);
    assert.ok(!sent[0]!.includes(WASM_IN_BASE64), 'the agent script carries WebAssembly');
  });

  test('an XXH128 run sends the xxh128 piece alone, under 20 kB more than SHA1', () => {
    assert.deepEqual(piecesForRun({ hash: hashByName('XXH128')!, compress: 'zlib' }), ['xxh128']);
    const sha1 = framedAgentScript(piecesForRun({ hash: hashByName('SHA1')!, compress: 'zlib' }));
    const xxh = framedAgentScript(piecesForRun({ hash: hashByName('XXH128')!, compress: 'zlib' }));
    const sent = frames(xxh);
    assert.equal(sent.length, 2);
    assert.ok(sent[1]!.startsWith('xxh128\n') && sent[1]!.includes(WASM_IN_BASE64), sent[1]!.slice(0, 40));
    assert.ok(xxh.length - sha1.length < 20_000, `${xxh.length - sha1.length} bytes more`);
  });

  test('a BLAKE3 run sends the blake3 piece; a piece named twice is sent once', () => {
    assert.deepEqual(piecesForRun({ hash: hashByName('BLAKE3')!, compress: 'zlib' }), ['blake3']);
    const sent = frames(framedAgentScript(['blake3', 'blake3']));
    assert.deepEqual(sent.map((f) => f.slice(0, f.indexOf('\n'))).slice(1), ['blake3']);
  });

  test('the WebAssembly zstd goes with --compress=zstd, and under auto only where this end may send zstd to the agent', () => {
    const sha1 = hashByName('SHA1')!;
    assert.deepEqual(piecesForRun({ hash: sha1, compress: 'zstd' }), ['zstd']);
    assert.deepEqual(piecesForRun({ hash: sha1, compress: 'zstd', action: 'PULL', bitmap: 'b' }), ['zstd']);
    for (const compress of ['zlib', 'none'] as const) assert.deepEqual(piecesForRun({ hash: sha1, compress }), [], compress);
    // --zlevel alone is zlib, as in the original tool.
    assert.deepEqual(piecesForRun({ hash: sha1, zlevel: 9 }), []);
    // auto: the agent compresses a PULL itself (with its own built-in zstd or zlib), and a
    // bitmap run's few changed blocks do not pay for 185 KiB.
    assert.deepEqual(piecesForRun({ hash: sha1, action: 'PULL' }), []);
    assert.deepEqual(piecesForRun({ hash: sha1, action: 'PUSH', bitmap: 'b' }), []);
    // A PUSH under auto: zstd from either kind (the WASM build compresses on threads of its own).
    assert.deepEqual(piecesForRun({ hash: sha1, action: 'PUSH' }), zstdKind !== 'none' ? ['zstd'] : []);
    const sent = frames(framedAgentScript(['zstd']));
    // The package carries its WebAssembly packed in its own way (not plain base64): known by its size.
    assert.ok(sent[1]!.startsWith('zstd\n') && sent[1]!.length > 100_000, `${sent[1]!.slice(0, 40)}: ${sent[1]!.length} bytes`);
  });
});
