/**
 * One run per bitmap: the lock file FILE.lock ("pid hostname"). A live holder makes
 * a second run refuse with a clear message and leaves everything (the holder's lock
 * included) alone; a lock left by a dead process on this host is taken over.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { errorLines } from '../test-support/bitmap-files.js';
import { cmp, scribble, sha256File, writeImage } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { lockBitmap } from './bitmap-lock.js';

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  return r.pid!;
}

describe('lockBitmap', () => {
  it('refuses a second lock while the first is held, and locks again once released', async () => {
    const dir = await makeTempDir('basyn-lock-');
    try {
      const bitmap = join(dir.path, 'x.bitmap');
      const lock = await lockBitmap(bitmap);
      assert.equal(await readFile(`${bitmap}.lock`, 'utf8'), `${process.pid} ${hostname()}\n`);
      await assert.rejects(lockBitmap(bitmap), (e: Error) => {
        assert.equal(e.name, 'BitmapError');
        assert.match(e.message, new RegExp(`in use by another basyn run \\(pid ${process.pid} on ${hostname()}\\)`));
        assert.ok(e.message.includes(`${bitmap}.lock`), 'names the lock file');
        return true;
      });
      assert.ok(existsSync(`${bitmap}.lock`), 'the refused attempt leaves the holder\'s lock');
      await lock.release();
      assert.equal(existsSync(`${bitmap}.lock`), false);
      await lock.release(); // twice is harmless
      const again = await lockBitmap(bitmap);
      await again.release();
    } finally {
      await dir.remove();
    }
  });

  it('takes over a stale lock of a dead process on this host', async () => {
    const dir = await makeTempDir('basyn-lock-');
    try {
      const bitmap = join(dir.path, 'x.bitmap');
      await writeFile(`${bitmap}.lock`, `${deadPid()} ${hostname()}\n`);
      const lock = await lockBitmap(bitmap);
      assert.equal(await readFile(`${bitmap}.lock`, 'utf8'), `${process.pid} ${hostname()}\n`);
      await lock.release();
    } finally {
      await dir.remove();
    }
  });

  it('lets only one of several runs that find the same stale lock take it over', async () => {
    const dir = await makeTempDir('basyn-lock-');
    try {
      const dead = deadPid();
      let doubled = 0;
      for (let i = 0; i < 50; i++) {
        const bitmap = join(dir.path, `x${i}.bitmap`);
        await writeFile(`${bitmap}.lock`, `${dead} ${hostname()}\n`);
        const results = await Promise.allSettled([lockBitmap(bitmap), lockBitmap(bitmap), lockBitmap(bitmap), lockBitmap(bitmap)]);
        const holders = results.filter((r) => r.status === 'fulfilled');
        if (holders.length > 1) doubled++;
        for (const r of holders) await r.value.release();
      }
      assert.equal(doubled, 0, `in ${doubled} of 50 rounds, more than one caller holds the lock`);
    } finally {
      await dir.remove();
    }
  });

  it('does not take over a lock of another host, or one it cannot read', async () => {
    const dir = await makeTempDir('basyn-lock-');
    try {
      const bitmap = join(dir.path, 'x.bitmap');
      await writeFile(`${bitmap}.lock`, `${deadPid()} another-host.example\n`);
      await assert.rejects(lockBitmap(bitmap), /in use by another basyn run \(pid \d+ on another-host\.example\)/);
      await writeFile(`${bitmap}.lock`, '');
      await assert.rejects(lockBitmap(bitmap), /in use by another basyn run \(unknown process\)/);
      assert.ok(existsSync(`${bitmap}.lock`));
    } finally {
      await dir.remove();
    }
  });
});

describe('bitmap lock through the command', () => {
  const KiB = 1024;
  const BLOCK = 64 * KiB;
  const SIZE = 40 * BLOCK;
  const setup = async (dir: string): Promise<{ src: string; dst: string; bitmap: string; args: string[] }> => {
    const src = join(dir, 'source.img');
    const dst = join(dir, 'destination.img');
    const bitmap = join(dir, 'image.bitmap');
    await writeImage(src, SIZE, 81);
    await writeImage(dst, SIZE, 82);
    return { src, dst, bitmap, args: ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', String(BLOCK / KiB)] };
  };

  it('refuses while a live process holds the lock, touching nothing', async () => {
    const dir = await makeTempDir('basyn-lock-cli-');
    try {
      const { src, dst, bitmap, args } = await setup(dir.path);
      assert.equal((await runBasyn(args)).code, 0);
      await scribble(src, [BLOCK], 10, 83);
      const holder = `${process.pid} ${hostname()}\n`;
      await writeFile(`${bitmap}.lock`, holder);
      const before = { bitmap: await sha256File(bitmap), dst: await sha256File(dst) };
      const run = await runBasyn(args);
      assert.equal(run.code, 2, run.stderr);
      const lines = errorLines(run.stderr);
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, new RegExp(`^basyn: bitmap .*image\\.bitmap is in use by another basyn run \\(pid ${process.pid} on `));
      assert.equal(await readFile(`${bitmap}.lock`, 'utf8'), holder, 'the holder\'s lock is left alone');
      assert.deepEqual({ bitmap: await sha256File(bitmap), dst: await sha256File(dst) }, before, 'bitmap and destination unchanged');
    } finally {
      await dir.remove();
    }
  });

  it('takes over a stale lock left by a killed run', async () => {
    const dir = await makeTempDir('basyn-lock-cli-');
    try {
      const { src, dst, bitmap, args } = await setup(dir.path);
      await writeFile(`${bitmap}.lock`, `${deadPid()} ${hostname()}\n`);
      const run = await runBasyn(args);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(await cmp(src, dst));
      assert.equal(existsSync(`${bitmap}.lock`), false, 'the lock is released at the end');
    } finally {
      await dir.remove();
    }
  });

  it('a second run started while the first is under way refuses; the first completes', async () => {
    const dir = await makeTempDir('basyn-lock-cli-');
    try {
      const { src, dst, bitmap, args } = await setup(dir.path);
      const first = spawn(process.execPath, [BASYN_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let firstErr = '';
      first.stderr.setEncoding('utf8').on('data', (t: string) => (firstErr += t));
      const exited = new Promise<number | null>((resolve) => first.on('close', (code) => resolve(code)));
      let done = false;
      void exited.then(() => (done = true));
      // Hold the first run still as soon as it has taken the lock (and written its pid:
      // the file is created first and written after).
      const deadline = Date.now() + 20_000;
      const holding = (): boolean => {
        try {
          return readFileSync(`${bitmap}.lock`, 'utf8').includes(' ');
        } catch {
          return false;
        }
      };
      while (!holding() && !done && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      assert.equal(done, false, `the first run ended before it could be paused: ${firstErr}`);
      first.kill('SIGSTOP');
      try {
        // The same bitmap with another destination (the same destination would meet the
        // device's own one-writer lock first).
        const other = join(dir.path, 'other.img');
        await writeImage(other, SIZE, 84);
        const otherBefore = await sha256File(other);
        const second = await runBasyn(args.map((a) => (a === dst ? other : a)));
        assert.equal(second.code, 2, second.stderr);
        assert.match(second.stderr, new RegExp(`is in use by another basyn run \\(pid ${first.pid} on `));
        assert.equal(await sha256File(other), otherBefore, 'the refused run wrote nothing');
      } catch (error) {
        // Let the first run end before the folder goes.
        first.kill('SIGCONT');
        await exited;
        throw error;
      }
      first.kill('SIGCONT');
      assert.equal(await exited, 0, firstErr);
      assert.ok(await cmp(src, dst));
      assert.equal(existsSync(`${bitmap}.lock`), false);
    } finally {
      await dir.remove();
    }
  });
});
