/**
 * The auto codec's rule, without I/O: it climbs while the sender waits for the link
 * longer than it compresses, descends to its floor (zstd-1 with zstd, raw with zlib)
 * while the link waits for the compressor or compressing outlasts the waits for the
 * link, and holds in between.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AutoCodec, PERIOD, ZLIB_LADDER, ZSTD_LADDER } from './auto-codec.js';

function feed(a: AutoCodec, periods: number, linkWaitMs: number, compressorWaitMs: number, compressingMs = 0): void {
  for (let i = 0; i < periods * PERIOD; i++) a.observe(linkWaitMs, compressorWaitMs, compressingMs);
}

test('a link that is the bound makes auto compress harder, up to the top of its ladder', () => {
  const a = new AutoCodec(ZSTD_LADDER);
  assert.deepEqual(a.current, { codec: 'zstd', level: 1 });
  feed(a, 1, 50, 5);
  assert.deepEqual(a.current, { codec: 'zstd', level: 3 });
  feed(a, 20, 50, 5);
  assert.deepEqual(a.current, { codec: 'zstd', level: 9 });
});

test('a link waiting for the compressor makes auto compress less, down to zstd-1 and never below it', () => {
  const a = new AutoCodec(ZSTD_LADDER, 3);
  assert.deepEqual(a.current, { codec: 'zstd', level: 9 });
  feed(a, 1, 1, 40);
  assert.deepEqual(a.current, { codec: 'zstd', level: 6 });
  feed(a, 10, 0, 40);
  assert.deepEqual(a.current, { codec: 'zstd', level: 1 }, 'an idle-looking link must not cost zstd-1\'s ratio');
});

test('without zstd, a link waiting for the compressor makes auto send raw', () => {
  const a = new AutoCodec(ZLIB_LADDER);
  assert.deepEqual(a.current, { codec: 'zlib', level: 1 });
  feed(a, 1, 0, 40);
  assert.deepEqual(a.current, { codec: 'none', level: 0 });
  feed(a, 2, 30, 0);
  assert.deepEqual(a.current, { codec: 'zlib', level: 3 }, 'and climbs again once the link is the bound');
});

test('auto holds its level when neither side clearly waits, and decides only once a period', () => {
  const a = new AutoCodec(ZLIB_LADDER, 2);
  feed(a, 5, 10, 15);
  assert.deepEqual(a.current, { codec: 'zlib', level: 3 });
  for (let i = 0; i < PERIOD - 1; i++) a.observe(100, 0);
  assert.deepEqual(a.current, { codec: 'zlib', level: 3 }, 'no decision before the period is full');
  a.observe(100, 0);
  assert.deepEqual(a.current, { codec: 'zlib', level: 6 });
});

test('auto climbs again from its floor once the link becomes the bound', () => {
  const a = new AutoCodec(ZSTD_LADDER, 0);
  assert.deepEqual(a.current, { codec: 'zstd', level: 1 });
  feed(a, 2, 30, 0);
  assert.deepEqual(a.current, { codec: 'zstd', level: 6 });
});

test('a link that looks busy does not make auto climb past what compressing costs', () => {
  // The sender waits 10 ms a block for the link, but compressing already takes 12: one
  // level more would make the sender the bound (a receiver on this machine's cores).
  const a = new AutoCodec(ZSTD_LADDER, 2);
  feed(a, 10, 10, 0, 12);
  assert.deepEqual(a.current, { codec: 'zstd', level: 6 }, 'held where compressing costs about what the link waits');
  feed(a, 1, 10, 0, 8);
  assert.deepEqual(a.current, { codec: 'zstd', level: 9 }, 'and climbs while the wait for the link is the longer');
});

test('compressing for more than twice the waits for the link makes auto step down, even while the link is never idle', () => {
  const a = new AutoCodec(ZSTD_LADDER, 3);
  assert.deepEqual(a.current, { codec: 'zstd', level: 9 });
  feed(a, 1, 5, 0, 40);
  assert.deepEqual(a.current, { codec: 'zstd', level: 6 });
  feed(a, 10, 5, 0, 40);
  assert.deepEqual(a.current, { codec: 'zstd', level: 1 });
  const z = new AutoCodec(ZLIB_LADDER);
  feed(z, 1, 5, 0, 40);
  assert.deepEqual(z.current, { codec: 'none', level: 0 });
});
