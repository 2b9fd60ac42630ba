/**
 * The slab pool gives private copies that stay intact while they are held, and
 * reuses a slab's memory once every copy in it is released (never before).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlabPool } from './slab-pool.js';

const bytes = (length: number, fill: number): Buffer => Buffer.alloc(length, fill);

describe('slab pool', () => {
  test('a copy is private: changing the original after copying changes nothing', () => {
    const pool = new SlabPool(64);
    const original = bytes(10, 1);
    const c = pool.copy(original);
    original.fill(9);
    assert.deepEqual(c.buffer, bytes(10, 1));
  });

  test('copies held are never overwritten, however many more are made', () => {
    const pool = new SlabPool(64);
    const held = [];
    for (let i = 0; i < 100; i++) held.push({ fill: i, copy: pool.copy(bytes(24, i)) });
    for (const h of held) assert.deepEqual(h.copy.buffer, bytes(24, h.fill));
  });

  test("a slab's memory is reused once all of its copies are released, and not while one is held", () => {
    const pool = new SlabPool(64);
    const a = pool.copy(bytes(32, 1));
    const b = pool.copy(bytes(32, 2)); // fills the first slab
    const c = pool.copy(bytes(32, 3)); // a second slab
    assert.notEqual(c.buffer.buffer, a.buffer.buffer);
    a.release();
    const d = pool.copy(bytes(32, 4)); // second slab, now full
    assert.equal(d.buffer.buffer, c.buffer.buffer);
    const e = pool.copy(bytes(32, 5)); // the first slab still holds b: a third one
    assert.notEqual(e.buffer.buffer, a.buffer.buffer);
    assert.deepEqual(b.buffer, bytes(32, 2));
    b.release();
    b.release(); // releasing twice counts once
    c.release();
    d.release();
    const f = pool.copy(bytes(32, 6)); // third slab has room
    const g = pool.copy(bytes(32, 7)); // then a free one, not a new allocation
    assert.equal(f.buffer.buffer, e.buffer.buffer);
    assert.ok(g.buffer.buffer === a.buffer.buffer || g.buffer.buffer === c.buffer.buffer, 'a released slab is reused');
    assert.deepEqual(e.buffer, bytes(32, 5));
  });

  test('memory taken for a read is held as a copy is: not handed out again until released', () => {
    const pool = new SlabPool(64);
    const target = pool.take(40);
    assert.equal(target.buffer.length, 40);
    target.buffer.fill(7); // what a read would write there
    const other = pool.copy(bytes(40, 8)); // does not fit beside it: another slab
    assert.notEqual(other.buffer.buffer, target.buffer.buffer);
    assert.deepEqual(target.buffer, bytes(40, 7));
    target.release();
    other.release();
    const again = pool.take(40);
    assert.ok(again.buffer.buffer === target.buffer.buffer || again.buffer.buffer === other.buffer.buffer, 'released memory is taken again');
    assert.equal(pool.take(65).buffer.length, 65); // longer than a slab: its own memory
  });

  test('a buffer longer than a slab, and an empty one, get copies of their own', () => {
    const pool = new SlabPool(64);
    const long = pool.copy(bytes(65, 3));
    assert.deepEqual(long.buffer, bytes(65, 3));
    long.release();
    assert.equal(pool.copy(Buffer.alloc(0)).buffer.length, 0);
  });
});
