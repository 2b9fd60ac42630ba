/**
 * FrameDecoder: frames split across chunks in every possible way, several frames in
 * one chunk, and lengths of zero or over the limit rejected before the body is
 * buffered.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../errors.js';
import { FrameDecoder, HANDSHAKE_FRAME_LIMIT, frameLimitFor } from './protocol.js';

function frame(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

const bodies = [Buffer.from([0x1f]), Buffer.from('hello, frame'), Buffer.alloc(1000, 7), Buffer.from([1, 2, 3])];
const stream = Buffer.concat(bodies.map(frame));

describe('FrameDecoder', () => {
  test('several frames in one chunk come out in order', () => {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(stream), bodies);
    assert.equal(d.pendingBytes, 0);
  });

  test('one byte at a time gives the same frames', () => {
    const d = new FrameDecoder();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)));
    assert.deepEqual(out, bodies);
    assert.equal(d.pendingBytes, 0);
  });

  test('every split point of the stream into two chunks gives the same frames', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      assert.deepEqual(out, bodies, `split at ${cut}`);
    }
  });

  test('random chunkings give the same frames', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const d = new FrameDecoder();
      const out: Buffer[] = [];
      for (let at = 0; at < stream.length;) {
        const n = 1 + rand(40);
        out.push(...d.push(stream.subarray(at, at + n)));
        at += n;
      }
      assert.deepEqual(out, bodies, `round ${round} (seed ${seed})`);
    }
  });

  test('a partial frame is held and counted', () => {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(stream.subarray(0, 7)), [bodies[0]]);
    assert.equal(d.pendingBytes, 2); // 2 bytes of the second frame's length
    assert.deepEqual(d.push(Buffer.alloc(0)), []);
  });

  test('a zero length is rejected', () => {
    const d = new FrameDecoder();
    assert.throws(() => d.push(Buffer.from([0, 0, 0, 0, 0x1f])), ProtocolError);
  });

  test('a zero length is rejected even after good frames in the same chunk', () => {
    const d = new FrameDecoder();
    assert.throws(() => d.push(Buffer.concat([frame(Buffer.from([1])), Buffer.alloc(4)])), /frame length 0/);
  });

  test('a length over the limit is rejected from its 4 bytes alone, before any body', () => {
    const d = new FrameDecoder(1000);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1001, 0);
    assert.throws(() => d.push(head), (e: unknown) => e instanceof ProtocolError && /1001/.test(e.message));
  });

  test('a hostile 4 GiB length is rejected at once', () => {
    const d = new FrameDecoder();
    assert.throws(() => d.push(Buffer.from([0xff, 0xff, 0xff, 0xff])), ProtocolError);
  });

  test('a length exactly at the limit is accepted', () => {
    const d = new FrameDecoder(1000);
    const body = Buffer.alloc(1000, 1);
    assert.deepEqual(d.push(frame(body)), [body]);
  });

  test('the limit starts at the handshake limit and can be raised for blocks', () => {
    const d = new FrameDecoder();
    const big = Buffer.alloc(HANDSHAKE_FRAME_LIMIT + 1, 2);
    assert.throws(() => new FrameDecoder().push(frame(big)), ProtocolError);
    d.setLimit(frameLimitFor(128 * 1024));
    assert.deepEqual(d.push(frame(big)), [big]);
  });

  test('frameLimitFor leaves room for a block and its fields', () => {
    assert.equal(frameLimitFor(1024), HANDSHAKE_FRAME_LIMIT);
    assert.ok(frameLimitFor(8 * 1024 * 1024) >= 8 * 1024 * 1024 + 18);
  });
});
