/**
 * A bitmap reached through two names (a symlink, a hard link) is one bitmap: the lock
 * is on the file's identity, so a second run through another name is refused while the
 * first holds it; and --reset-bitmap or the first creation write through a symlink to
 * the file it points to (the symlink stays a symlink), and through a hard link to the
 * one file all its names share.
 */
import assert from 'node:assert/strict';
import { link, lstat, readlink, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { blockDigestsOfFile, errorLines, ORIGINAL_MAGIC, parseBitmap } from '../test-support/bitmap-files.js';
import { cmp, scribble, sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { lockBitmap } from './bitmap-lock.js';

const KiB = 1024;
const BLOCK = 64 * KiB;
const SIZE = 16 * BLOCK;

async function setup(dir: string): Promise<{ src: string; dst: string; bitmap: string; args: (b: string, ...extra: string[]) => string[] }> {
  const src = join(dir, 'source.img');
  const dst = join(dir, 'destination.img');
  await writeImage(src, SIZE, 41);
  await writeImage(dst, SIZE, 42);
  return {
    src, dst, bitmap: join(dir, 'real.bitmap'),
    args: (b, ...extra) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', b, '--buffer', String(BLOCK / KiB), ...extra],
  };
}

describe('the bitmap lock follows symlinks and hard links', { timeout: 300_000 }, () => {
  for (const how of ['a symlink', 'a hard link', 'a symlink not created yet'] as const) {
    it(`a run through ${how} is refused while the bitmap is locked through its real name, touching nothing`, async () => {
      const dir = await makeTempDir('basyn-lock-links-');
      try {
        const { src, dst, bitmap, args } = await setup(dir.path);
        const other = join(dir.path, 'other-name.bitmap');
        if (how === 'a symlink not created yet') {
          await symlink('real.bitmap', other);
        } else {
          assert.equal((await runBasyn(args(bitmap))).code, 0);
          if (how === 'a symlink') await symlink('real.bitmap', other);
          else await link(bitmap, other);
          await scribble(src, [BLOCK], 10, 43);
        }
        const dstBefore = await sha256File(dst);
        const held = await lockBitmap(bitmap);
        try {
          const run = await runBasyn(args(other), { timeoutMs: 60_000 });
          assert.equal(run.code, 2, describeRun(run));
          const lines = errorLines(run.stderr);
          assert.equal(lines.length, 1, run.stderr);
          // Through a hard link the other run's lock file has another name: the holder
          // is then known only as a run on this host.
          assert.match(lines[0]!, how === 'a hard link' ? /is in use by another basyn run on this host/ : new RegExp(`is in use by another basyn run \\(pid ${process.pid} on `));
          assert.equal(await sha256File(dst), dstBefore, 'the destination is untouched');
        } finally {
          await held.release();
        }
        // Once the first is done, the other name works.
        const run = await runBasyn(args(other), { timeoutMs: 60_000 });
        assert.equal(run.code, 0, describeRun(run));
        assert.ok(await cmp(src, dst));
      } finally {
        await dir.remove();
      }
    });
  }

  it('lockBitmap: the same file through a symlink or a hard link is one lock', async () => {
    const dir = await makeTempDir('basyn-lock-links-');
    try {
      const real = join(dir.path, 'x.bitmap');
      await symlink('x.bitmap', join(dir.path, 'soft'));
      const first = await lockBitmap(real);
      await assert.rejects(lockBitmap(join(dir.path, 'soft')), /in use by another basyn run/, 'the symlink of a bitmap not created yet');
      await first.release();
      await (await import('node:fs/promises')).writeFile(real, 'x');
      await link(real, join(dir.path, 'hard'));
      const second = await lockBitmap(real);
      await assert.rejects(lockBitmap(join(dir.path, 'hard')), /in use by another basyn run/, 'the hard link');
      await assert.rejects(lockBitmap(join(dir.path, 'soft')), /in use by another basyn run/, 'the symlink');
      await second.release();
      const third = await lockBitmap(join(dir.path, 'hard'));
      await third.release();
    } finally {
      await dir.remove();
    }
  });

  for (const reset of [false, true]) {
    it(`${reset ? '--reset-bitmap' : 'the first creation'} through a symlink writes the file it points to; the symlink stays`, async () => {
      const dir = await makeTempDir('basyn-lock-links-');
      try {
        const { src, dst, bitmap, args } = await setup(dir.path);
        const soft = join(dir.path, 'soft.bitmap');
        await symlink('real.bitmap', soft);
        if (reset) {
          // A bitmap with stale entries at the target: a reset must start it afresh.
          assert.equal((await runBasyn(args(bitmap))).code, 0);
          await scribble(src, [0, 5 * BLOCK], 100, 44);
        }
        const run = await runBasyn(args(soft, ...(reset ? ['--reset-bitmap'] : [])), { timeoutMs: 60_000 });
        assert.equal(run.code, 0, describeRun(run));
        assert.ok((await lstat(soft)).isSymbolicLink(), 'the symlink is still a symlink');
        assert.equal(await readlink(soft), 'real.bitmap');
        assert.ok(await cmp(src, dst));
        const target = await parseBitmap(bitmap);
        assert.equal(target.magic, ORIGINAL_MAGIC);
        assert.ok(target.body.equals(Buffer.concat(await blockDigestsOfFile(src, BLOCK))), 'the target holds the source\'s digests');
      } finally {
        await dir.remove();
      }
    });
  }

  it('--reset-bitmap through a hard link starts afresh the one file both names share', async () => {
    const dir = await makeTempDir('basyn-lock-links-');
    try {
      const { src, dst, bitmap, args } = await setup(dir.path);
      assert.equal((await runBasyn(args(bitmap))).code, 0);
      const hard = join(dir.path, 'hard.bitmap');
      await link(bitmap, hard);
      await scribble(src, [3 * BLOCK], 100, 45);
      const run = await runBasyn(args(hard, '--reset-bitmap'), { timeoutMs: 60_000 });
      assert.equal(run.code, 0, describeRun(run));
      assert.equal((await stat(bitmap)).ino, (await stat(hard)).ino, 'still one file');
      assert.equal((await stat(bitmap)).nlink, 2);
      assert.ok(await cmp(src, dst));
      assert.ok((await parseBitmap(bitmap)).body.equals(Buffer.concat(await blockDigestsOfFile(src, BLOCK))));
    } finally {
      await dir.remove();
    }
  });
});
