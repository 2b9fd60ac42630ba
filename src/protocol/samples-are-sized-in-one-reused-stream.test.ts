/**
 * looksIncompressible sizes its three samples per block with one deflate stream it
 * resets each time (zlib-into.ts's deflatedLength), not a stream, an output buffer and
 * zlib's state per sample: the sizes, and so the decisions, are deflateSync's.
 */
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import { compressibleImage } from '../test-support/fault-fixtures.js';
import { seededBytes } from '../test-support/images.js';
import { looksIncompressible } from './block-codec.js';
import { deflatedLength } from './zlib-into.js';

const SAMPLE = 8 * 1024;

test('a sample deflates to within 2% of what deflateSync makes of it, call after call', () => {
  const kinds: Record<string, Buffer> = {
    random: seededBytes(SAMPLE, 1),
    zeros: Buffer.alloc(SAMPLE),
    compressible: compressibleImage(SAMPLE, 2),
    'half random': Buffer.concat([seededBytes(SAMPLE / 2, 3), Buffer.alloc(SAMPLE / 2, 7)]),
  };
  for (let round = 0; round < 3; round++) {
    for (const [name, data] of Object.entries(kinds)) {
      const ours = deflatedLength(data);
      assert.ok(ours !== undefined, `this node (${process.version}) lets the stream be driven`);
      const theirs = deflateSync(data, { level: 1 }).length;
      assert.ok(Math.abs(ours - theirs) <= Math.max(16, theirs * 0.02), `${name}: ${ours} against deflateSync's ${theirs}`);
    }
  }
  assert.equal(deflatedLength(Buffer.alloc(64 * 1024 + 1)), undefined, 'longer than a sample is left to deflateSync');
});

test('random blocks look incompressible and compressible ones do not', () => {
  for (const size of [64 * 1024, 1024 * 1024, 4 * 1024 * 1024]) {
    assert.equal(looksIncompressible(seededBytes(size, size)), true, `random, ${size}`);
    assert.equal(looksIncompressible(compressibleImage(size, size)), false, `compressible, ${size}`);
  }
});
