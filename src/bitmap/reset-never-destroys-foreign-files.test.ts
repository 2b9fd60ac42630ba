/**
 * basyn never overwrites, renames over or truncates a non-empty file that is not a
 * basyn bitmap, whatever the options: `-b` naming a disk image, a text file or a file
 * too short to hold the magic number is refused (exit 2, one line that says what the
 * file is and suggests neither --reset-bitmap nor deleting it), with or without
 * --reset-bitmap, and the file keeps every byte. --reset-bitmap may start afresh only
 * a missing file, an empty file, or a file that starts with the bitmap magic number.
 * The same holds for the lock file basyn keeps beside the bitmap.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { blockDigestsOfFile, encodeOriginalBitmap, errorLines, ORIGINAL_MAGIC, parseBitmap } from '../test-support/bitmap-files.js';
import { cmp, seededBytes, sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const KiB = 1024;
const BLOCK = 64 * KiB;
const SIZE = 16 * BLOCK;

interface Pair {
  dir: string;
  src: string;
  dst: string;
  bitmap: string;
  args(...extra: string[]): string[];
}

async function pair(dir: string, seed: number): Promise<Pair> {
  const src = join(dir, 'source.img');
  const dst = join(dir, 'destination.img');
  const bitmap = join(dir, 'some.img');
  await writeImage(src, SIZE, seed);
  await writeImage(dst, SIZE, seed + 1);
  return {
    dir, src, dst, bitmap,
    args: (...extra) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', String(BLOCK / KiB), ...extra],
  };
}

const FOREIGN: { name: string; bytes: () => Buffer }[] = [
  { name: 'a 1 MiB disk image', bytes: () => seededBytes(SIZE, 7) },
  { name: 'a text file', bytes: () => Buffer.from('my notes, not a bitmap at all, long enough to hold a header\n') },
  { name: 'a 5-byte file (shorter than the magic number)', bytes: () => Buffer.from('hello') },
  {
    name: 'a file that is a bitmap but for the first byte of its magic number',
    bytes: () => {
      const b = encodeOriginalBitmap(SIZE, BLOCK, 0, Array.from({ length: SIZE / BLOCK }, () => Buffer.alloc(20)));
      b[0] ^= 1;
      return b;
    },
  },
];

function assertRefusedAsForeign(run: Awaited<ReturnType<typeof runBasyn>>, bitmap: string): void {
  assert.equal(run.code, 2, describeRun(run));
  const lines = errorLines(run.stderr);
  assert.equal(lines.length, 1, `one line: ${run.stderr}`);
  assert.ok(lines[0]!.includes(bitmap), 'names the file');
  assert.match(lines[0]!, /is not a basyn bitmap/);
  assert.match(lines[0]!, /does not start with the bitmap magic number/);
  assert.match(lines[0]!, /-b must name a bitmap file/);
  assert.doesNotMatch(lines[0]!, /reset|delete|remove/i, 'suggests nothing that would destroy the file');
}

describe('a file that is not a bitmap is never written', { concurrency: 2, timeout: 300_000 }, () => {
  for (const foreign of FOREIGN) {
    for (const reset of [false, true]) {
      it(`${foreign.name} as -b${reset ? ' with --reset-bitmap' : ''}: exit 2, the file and the destination keep every byte`, async () => {
        const dir = await makeTempDir('basyn-foreign-');
        try {
          const p = await pair(dir.path, 11);
          const content = foreign.bytes();
          await writeFile(p.bitmap, content);
          const dstBefore = await sha256File(p.dst);
          const run = await runBasyn(p.args(...(reset ? ['--reset-bitmap'] : [])), { timeoutMs: 60_000 });
          assertRefusedAsForeign(run, p.bitmap);
          assert.ok((await readFile(p.bitmap)).equals(content), 'the file is byte for byte what it was');
          assert.equal(await sha256File(p.dst), dstBefore, 'the destination is untouched');
          assert.deepEqual((await readdir(dir.path)).sort(), ['destination.img', 'some.img', 'source.img'], 'no file left beside it');
        } finally {
          await dir.remove();
        }
      });
    }
  }

  it('a foreign file is refused by a bitmap-only run (no destination) and by --dry-run as well', async () => {
    const dir = await makeTempDir('basyn-foreign-');
    try {
      const p = await pair(dir.path, 12);
      const content = seededBytes(SIZE, 8);
      await writeFile(p.bitmap, content);
      for (const args of [
        ['-l', p.src, '-a', 'PUSH', '-m', 'SYNC', '-b', p.bitmap, '--reset-bitmap'],
        ['-l', p.src, '-a', 'PUSH', '-m', 'SYNC', '-b', p.bitmap],
        [...p.args('--dry-run')],
      ]) {
        const run = await runBasyn(args, { timeoutMs: 60_000 });
        assertRefusedAsForeign(run, p.bitmap);
        assert.ok((await readFile(p.bitmap)).equals(content), `${args.join(' ')}: the file changed`);
      }
    } finally {
      await dir.remove();
    }
  });

  it('--reset-bitmap starts afresh a missing file, an empty file, and any file that starts with the magic number', async () => {
    const dir = await makeTempDir('basyn-foreign-');
    try {
      const p = await pair(dir.path, 13);
      const magicOnly = Buffer.alloc(8);
      magicOnly.writeBigUInt64LE(ORIGINAL_MAGIC);
      const starts: { name: string; make: () => Promise<void> }[] = [
        { name: 'missing', make: async () => undefined },
        { name: 'empty', make: () => writeFile(p.bitmap, '') },
        { name: 'the magic number alone', make: () => writeFile(p.bitmap, magicOnly) },
        { name: 'a bitmap of another buffer size', make: () => writeFile(p.bitmap, encodeOriginalBitmap(SIZE, BLOCK / 2, 0, [Buffer.alloc(20, 1)])) },
        {
          name: 'a bitmap cut short',
          make: async () => {
            await writeFile(p.bitmap, encodeOriginalBitmap(SIZE, BLOCK, 0, Array.from({ length: SIZE / BLOCK }, () => Buffer.alloc(20, 9))));
            await truncate(p.bitmap, 30);
          },
        },
      ];
      const wanted = await blockDigestsOfFile(p.src, BLOCK);
      for (const start of starts) {
        await writeImage(p.dst, SIZE, 14);
        await rm(p.bitmap, { force: true });
        await start.make();
        const run = await runBasyn(p.args('--reset-bitmap'), { timeoutMs: 60_000 });
        assert.equal(run.code, 0, `${start.name}: ${describeRun(run)}`);
        assert.ok(await cmp(p.src, p.dst), `${start.name}: destination equals the source`);
        const bitmap = await parseBitmap(p.bitmap);
        assert.equal(bitmap.magic, ORIGINAL_MAGIC);
        assert.equal(bitmap.blockSize, BLOCK);
        assert.ok(bitmap.body.equals(Buffer.concat(wanted)), `${start.name}: the entries are the source's digests`);
        assert.equal(existsSync(`${p.bitmap}.lock`), false);
      }
    } finally {
      await dir.remove();
    }
  });

  it('a file with no entries (empty, or a bitmap header alone: what a crash during creation leaves) is taken as new without --reset-bitmap', async () => {
    const dir = await makeTempDir('basyn-foreign-');
    try {
      const p = await pair(dir.path, 15);
      const header = encodeOriginalBitmap(2 * SIZE, BLOCK, 7, []);
      for (const start of [Buffer.alloc(0), header.subarray(0, 10), header]) {
        await writeImage(p.dst, SIZE, 16);
        await writeFile(p.bitmap, start);
        for (const extra of [['--dry-run'], []]) {
          const run = await runBasyn(p.args(...extra), { timeoutMs: 60_000 });
          // A dry run finds every block differing (all entries unknown): exit 2 as documented.
          assert.equal(run.code, extra.length === 0 ? 0 : 2, `${start.length} bytes ${extra.join(' ')}: ${describeRun(run)}`);
          if (extra.length > 0) assert.match(run.stderr, /dry run: 16 of 16 blocks differ/);
        }
        assert.ok(await cmp(p.src, p.dst));
        assert.ok((await parseBitmap(p.bitmap)).body.equals(Buffer.concat(await blockDigestsOfFile(p.src, BLOCK))));
      }
    } finally {
      await dir.remove();
    }
  });

  it('a foreign file where the lock file goes is refused and kept; nothing suggests deleting it', async () => {
    const dir = await makeTempDir('basyn-foreign-');
    try {
      const p = await pair(dir.path, 16);
      const lock = `${p.bitmap}.lock`;
      for (const content of [seededBytes(4 * KiB, 3), Buffer.from('my shopping list\n'), Buffer.from('123 and more words\n')]) {
        await writeFile(lock, content);
        const dstBefore = await sha256File(p.dst);
        const run = await runBasyn(p.args('--reset-bitmap'), { timeoutMs: 60_000 });
        assert.equal(run.code, 2, describeRun(run));
        const lines = errorLines(run.stderr);
        assert.equal(lines.length, 1, run.stderr);
        assert.ok(lines[0]!.includes(lock), 'names the lock file');
        assert.match(lines[0]!, /is not a basyn lock file/);
        assert.doesNotMatch(lines[0]!, /delete|remove/i);
        assert.ok((await readFile(lock)).equals(content), 'the file where the lock goes is untouched');
        assert.equal(existsSync(p.bitmap), false, 'no bitmap was created');
        assert.equal(await sha256File(p.dst), dstBefore);
      }
    } finally {
      await dir.remove();
    }
  });
});
