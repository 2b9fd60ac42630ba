/**
 * FrameDecoder: frames split across chunks in every possible way, several frames in
 * one chunk, and lengths of zero or over the limit rejected before the body is
 * buffered.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../errors.js';
import { SlabPool } from '../util/slab-pool.js';
import { FrameDecoder, HANDSHAKE_FRAME_LIMIT, MessageType, frameLimitFor } from './protocol.js';

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
    assert.deepEqual(d.push(stream).map((f) => f.body), bodies);
    assert.equal(d.pendingBytes, 0);
  });

  test('one byte at a time gives the same frames', () => {
    const d = new FrameDecoder();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)).map((f) => f.body));
    assert.deepEqual(out, bodies);
    assert.equal(d.pendingBytes, 0);
  });

  test('every split point of the stream into two chunks gives the same frames', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))].map((f) => f.body);
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
        out.push(...d.push(stream.subarray(at, at + n)).map((f) => f.body));
        at += n;
      }
      assert.deepEqual(out, bodies, `round ${round} (seed ${seed})`);
    }
  });

  test('a partial frame is held and counted', () => {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(stream.subarray(0, 7)).map((f) => f.body), [bodies[0]]);
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
    assert.deepEqual(d.push(frame(body)).map((f) => f.body), [body]);
  });

  test('the limit starts at the handshake limit and can be raised for blocks', () => {
    const d = new FrameDecoder();
    const big = Buffer.alloc(HANDSHAKE_FRAME_LIMIT + 1, 2);
    assert.throws(() => new FrameDecoder().push(frame(big)), ProtocolError);
    d.setLimit(frameLimitFor(128 * 1024));
    assert.deepEqual(d.push(frame(big)).map((f) => f.body), [big]);
  });

  test('frameLimitFor leaves room for a block and its fields', () => {
    assert.equal(frameLimitFor(1024), HANDSHAKE_FRAME_LIMIT);
    assert.ok(frameLimitFor(8 * 1024 * 1024) >= 8 * 1024 * 1024 + 18);
  });

  describe('chunks of one buffer the input reads into again (borrowed)', () => {
    /** Feeds `data` through one buffer that is overwritten after every push, as a socket with `onread` does. */
    const feedBorrowed = (d: FrameDecoder, data: Buffer, sizes: () => number) => {
      const reused = Buffer.alloc(70_000);
      const out = [];
      for (let at = 0; at < data.length;) {
        const n = Math.min(sizes(), data.length - at);
        data.copy(reused, 0, at, at + n);
        out.push(...d.push(reused.subarray(0, n), true));
        reused.fill(0xa5); // the next read lands here
        at += n;
      }
      return out;
    };

    test('every frame survives the buffer being read into again, whatever the chunking', () => {
      const many = Buffer.concat([stream, frame(Buffer.alloc(200_000, 3)), stream, frame(Buffer.alloc(65_536, 4))]);
      const expected = [...bodies, Buffer.alloc(200_000, 3), ...bodies, Buffer.alloc(65_536, 4)];
      for (const size of [1, 3, 4, 5, 31, 32, 33, 1000, 65_536, 70_000]) {
        const d = new FrameDecoder(1 << 20);
        assert.deepEqual(feedBorrowed(d, many, () => size).map((f) => f.body), expected, `chunks of ${size}`);
        assert.equal(d.pendingBytes, 0);
      }
    });

    test('a frame whole inside one borrowed chunk is a copy, not a view of it', () => {
      const d = new FrameDecoder();
      // Buffer.alloc: memory of its own, never node's pool (which small bodies may share).
      const chunk = Buffer.alloc(stream.length);
      stream.copy(chunk);
      const frames = d.push(chunk, true);
      for (const f of frames) assert.notEqual(f.body.buffer, chunk.buffer);
      chunk.fill(0);
      assert.deepEqual(frames.map((f) => f.body), bodies);
    });

    test('`wants` sees the first bytes of a body split across borrowed chunks', () => {
      const pool = new SlabPool(1 << 18);
      const d = new FrameDecoder(1 << 20, { type: MessageType.Data, pool, fromBytes: 1000, wants: (byte) => byte(17) === 9 });
      const body = (mark: number): Buffer => {
        const b = Buffer.alloc(5000, mark);
        b[0] = MessageType.Data;
        b[17] = mark;
        return b;
      };
      const [wanted, other] = feedBorrowed(d, Buffer.concat([frame(body(9)), frame(body(8))]), () => 7);
      assert.deepEqual(wanted!.body, body(9));
      assert.deepEqual(other!.body, body(8));
      assert.equal(wanted!.body.buffer, pool.take(1).buffer.buffer, 'the wanted frame is in the pool');
    });

    test('a length over the limit is still rejected before any memory is taken for the body', () => {
      const d = new FrameDecoder(1000);
      assert.throws(() => d.push(Buffer.from([0, 0, 0x03, 0xe9, 1, 2, 3]), true), /1001/);
    });

    test('pendingBytes counts a partial frame across borrowed chunks', () => {
      const d = new FrameDecoder();
      const f = frame(Buffer.alloc(100, 1));
      d.push(Buffer.from(f.subarray(0, 2)), true);
      assert.equal(d.pendingBytes, 2);
      d.push(Buffer.from(f.subarray(2, 50)), true);
      assert.equal(d.pendingBytes, 50);
      assert.equal(d.push(Buffer.from(f.subarray(50)), true).length, 1);
      assert.equal(d.pendingBytes, 0);
    });
  });

  describe('joining into reused memory', () => {
    /** A body of `type` and `n` bytes, its bytes after the type all `fill`. */
    const body = (type: number, n: number, fill: number): Buffer => Buffer.concat([Buffer.from([type]), Buffer.alloc(n - 1, fill)]);
    /** Feeds `data` in 1000-byte chunks, as a pipe hands a long frame over in pieces. */
    const feed = (d: FrameDecoder, data: Buffer) => {
      const out = [];
      for (let at = 0; at < data.length; at += 1000) out.push(...d.push(Buffer.from(data.subarray(at, at + 1000))));
      return out;
    };

    test('a frame of the chosen type is joined into pool memory, reused only after its release', () => {
      const d = new FrameDecoder(1 << 20, { type: MessageType.Write, pool: new SlabPool(8192), fromBytes: 2000 });
      const [a] = feed(d, frame(body(MessageType.Write, 5000, 1)));
      const [b] = feed(d, frame(body(MessageType.Write, 5000, 2))); // no room left in a's slab
      assert.notEqual(b!.body.buffer, a!.body.buffer);
      assert.deepEqual(a!.body, body(MessageType.Write, 5000, 1), 'a held frame stays intact while others arrive');
      a!.release();
      b!.release();
      const [c] = feed(d, frame(body(MessageType.Write, 5000, 3)));
      assert.ok(c!.body.buffer === a!.body.buffer || c!.body.buffer === b!.body.buffer, 'released memory is used again');
      assert.deepEqual(c!.body, body(MessageType.Write, 5000, 3));
    });

    test('`wants` chooses frames by their bytes, read across the chunks they came in', () => {
      const pool = new SlabPool(1 << 16);
      const seen: number[] = [];
      // Bytes 1-4 as a u32, as DATA's id: only id 7 is wanted.
      const d = new FrameDecoder(1 << 20, {
        type: MessageType.Data,
        pool,
        fromBytes: 2000,
        wants: (byte) => {
          const id = ((byte(1) << 24) | (byte(2) << 16) | (byte(3) << 8) | byte(4)) >>> 0;
          seen.push(id);
          return id === 7;
        },
      });
      const withId = (id: number): Buffer => {
        const b = body(MessageType.Data, 5000, id & 0xff);
        b.writeUInt32BE(id, 1);
        return b;
      };
      // 999 bytes before the frame: its header and id straddle the first 1000-byte chunk.
      const [, wanted, other] = feed(d, Buffer.concat([frame(Buffer.alloc(995, 9)), frame(withId(7)), frame(withId(0x01020307))]));
      assert.deepEqual(seen, [7, 0x01020307]);
      assert.deepEqual(wanted!.body, withId(7));
      assert.deepEqual(other!.body, withId(0x01020307));
      const slabOf = pool.take(1).buffer.buffer;
      assert.equal(wanted!.body.buffer, slabOf, 'the wanted frame is in the pool');
      assert.notEqual(other!.body.buffer, slabOf, 'the other is fresh memory');
    });

    test('while a frame is held its memory is never given to another', () => {
      const d = new FrameDecoder(1 << 20, { type: MessageType.Write, pool: new SlabPool(8192), fromBytes: 2000 });
      const held = [];
      for (let i = 0; i < 20; i++) held.push({ i, frame: feed(d, frame(body(MessageType.Write, 3000, i)))[0]! });
      for (const h of held) assert.deepEqual(h.frame.body, body(MessageType.Write, 3000, h.i));
    });

    test('frames of other types are fresh memory, whatever the chunking', () => {
      const pool = new SlabPool(8192);
      const d = new FrameDecoder(1 << 20, { type: MessageType.Write, pool, fromBytes: 2000 });
      const [a] = feed(d, frame(body(MessageType.Data, 5000, 1)));
      const [w] = feed(d, frame(body(MessageType.Write, 5000, 2)));
      const slab = w!.body.buffer;
      w!.release();
      const [b] = feed(d, frame(body(MessageType.Data, 5000, 3)));
      assert.notEqual(a!.body.buffer, slab);
      assert.notEqual(b!.body.buffer, slab, 'a freed slab is not lent to another type');
      assert.deepEqual(b!.body, body(MessageType.Data, 5000, 3));
    });

    test('a frame shorter than fromBytes is fresh memory', () => {
      const pool = new SlabPool(8192);
      const d = new FrameDecoder(1 << 20, { type: MessageType.Write, pool, fromBytes: 2000 });
      const [w] = feed(d, frame(body(MessageType.Write, 5000, 2)));
      const slab = w!.body.buffer;
      w!.release();
      const [small] = feed(d, frame(body(MessageType.Write, 1500, 4)));
      assert.notEqual(small!.body.buffer, slab);
      assert.deepEqual(small!.body, body(MessageType.Write, 1500, 4));
    });
  });
});
