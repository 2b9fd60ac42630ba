/**
 * Memory of a bitmap SYNC stays bounded by the bytes it moves, not by the bytes it
 * scans: a few small changed blocks spread over a large source must not keep whole
 * read units (several MiB each) alive while they wait for their commit batch.
 * The peak RSS of basyn (VmHWM, polled from /proc) is compared with that of a plain
 * SYNC of the same pair.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cmp } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const MiB = 1024 * 1024;

/** Runs basyn and returns its exit code and peak resident memory in bytes. */
function runMeasured(args: string[]): Promise<{ code: number | null; stderr: string; peak: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BASYN_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m !== null) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch {
        // exited
      }
    }, 5);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stderr, peak });
    });
  });
}

describe('bitmap SYNC memory', () => {
  it('does not keep whole read units alive for small changed blocks', { timeout: 60_000 }, async (t) => {
    if (process.platform !== 'linux') return t.skip('reads /proc');
    const dir = await makeTempDir('basyn-bitmap-memory-');
    try {
      // A sparse 512 MiB source and destination; the bitmap is made from the source alone.
      const size = 512 * MiB;
      const src = join(dir.path, 'source.img');
      const dst = join(dir.path, 'destination.img');
      const bitmap = join(dir.path, 'image.bitmap');
      await (await open(src, 'w')).close();
      await truncate(src, size);
      await (await open(dst, 'w')).close();
      await truncate(dst, size);
      const made = await runBasyn(['-l', src, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', '64']);
      assert.equal(made.code, 0, made.stderr);
      // One changed 64 KiB block in every 4 MiB.
      const f = await open(src, 'r+');
      try {
        for (let at = 0; at < size; at += 4 * MiB) await f.write(Buffer.from(`changed at ${at}`), 0, undefined, at + 100);
      } finally {
        await f.close();
      }
      const plain = await runMeasured(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--zlevel', '1']);
      assert.equal(plain.code, 0, plain.stderr);
      // Undo what the plain SYNC wrote, so the bitmap run has the same work to do.
      await truncate(dst, 0);
      await truncate(dst, size);
      const withBitmap = await runMeasured(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', '64', '--zlevel', '1', '--no-bitmap-check']);
      assert.equal(withBitmap.code, 0, withBitmap.stderr);
      assert.ok(await cmp(src, dst));
      console.log(`peak RSS: plain SYNC ${(plain.peak / MiB).toFixed(0)} MiB, bitmap SYNC ${(withBitmap.peak / MiB).toFixed(0)} MiB`);
      // 128 changed blocks are 8 MiB of data: allow the bitmap run 128 MiB above the plain one.
      assert.ok(
        withBitmap.peak < plain.peak + 128 * MiB,
        `bitmap SYNC peaked at ${(withBitmap.peak / MiB).toFixed(0)} MiB, plain SYNC at ${(plain.peak / MiB).toFixed(0)} MiB`,
      );
    } finally {
      await dir.remove();
    }
  });
});
