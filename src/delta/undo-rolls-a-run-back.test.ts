/**
 * --undo through the real command: the undo file of a SYNC, a bitmap SYNC, a COPY and
 * an apply, applied with --apply-delta, gives back the destination byte for byte;
 * so does the undo file of a SYNC killed with SIGKILL part-way, which covers what
 * that run overwrote and nothing else.
 */
import assert from 'node:assert/strict';
import { copyFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cmp, imagePair, scribble, sha256File, writeImage } from '../test-support/images.js';
import { prng } from '../test-support/prng.js';
import { describeRun, runBasyn, startBasyn } from '../test-support/run-basyn.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const KiB = 1024;
const SIZE = 2 * 1024 * KiB + 777;
const dir = tempDirForFile('basyn-undo-');
let seed = 500;

/** A source and a destination that differs from it in a few places (test-support's imagePair). */
async function pair(name: string): Promise<{ src: string; dst: string; original: string }> {
  const p = await imagePair(dir.path, name, SIZE, (seed += 3), [0, 100 * KiB, 900 * KiB, SIZE - 50], 40);
  return { src: p.source, dst: p.destination, original: await sha256File(p.destination) };
}

async function ok(args: string[]): Promise<string> {
  const r = await runBasyn(args);
  assert.equal(r.code, 0, describeRun(r));
  return r.stdout;
}

describe('an undo file rolls its run back', () => {
  const runs: [string, (src: string, dst: string, undo: string) => string[]][] = [
    ['SYNC', (src, dst, undo) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--undo', undo, '--stat']],
    ['SYNC with --chunk, PULL', (src, dst, undo) => ['-l', dst, '-r', src, '-a', 'PULL', '-m', 'SYNC', '--buffer', '64', '--chunk', '4', '--undo', undo, '--stat']],
    ['COPY', (src, dst, undo) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'COPY', '--buffer', '64', '--undo', undo, '--stat']],
  ];
  for (const [what, args] of runs) {
    it(what, async () => {
      const { src, dst, original } = await pair(what.replace(/\W/g, ''));
      const undo = join(dir.path, `${what.replace(/\W/g, '')}.undo`);
      const out = await ok(args(src, dst, undo));
      assert.match(out, /^UNDO\. Saved: [1-9]\d* entries/m);
      assert.equal(await cmp(src, dst), true, 'the run synced');
      await ok(['--apply-delta', undo, '-l', dst]);
      assert.equal(await sha256File(dst), original, 'the undo gave back the destination as it was');
    });
  }

  it('bitmap SYNC, and an apply whose own undo re-applies it', async () => {
    const { src, dst, original } = await pair('bitmap');
    const bitmap = join(dir.path, 'bitmap.bm');
    await ok(['-l', src, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64']);
    await scribble(src, [300 * KiB], 10, seed++);
    const undo = join(dir.path, 'bitmap.undo');
    await ok(['-l', src, '-r', dst, '-b', bitmap, '--no-bitmap-check', '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--reset-bitmap', '--undo', undo]);
    assert.equal(await cmp(src, dst), true);
    const redo = join(dir.path, 'bitmap.redo');
    await ok(['--apply-delta', undo, '-l', dst, '--undo', redo]);
    assert.equal(await sha256File(dst), original);
    await ok(['--apply-delta', redo, '-l', dst]);
    assert.equal(await cmp(src, dst), true, 'the undo of the undo');
  });

  it('an existing file is never overwritten by --undo', async () => {
    const { src, dst, original } = await pair('exists');
    const undo = join(dir.path, 'exists.undo');
    await copyFile(src, undo);
    const before = await sha256File(undo);
    const r = await runBasyn(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--undo', undo]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, /cannot create undo file.*EEXIST/);
    assert.equal(await sha256File(undo), before);
    assert.equal(await sha256File(dst), original, 'nothing was written without its undo');
  });

  it('a SYNC killed with SIGKILL part-way: its undo restores what it overwrote', async () => {
    const random = prng(7);
    const src = join(dir.path, 'killed.src');
    const base = join(dir.path, 'killed.base');
    const dst = join(dir.path, 'killed.dst');
    // 48 MiB that all differ, so the 16 MiB batches of the undo cut the run in three.
    await writeImage(src, 48 * 1024 * KiB, seed++);
    await writeImage(base, 48 * 1024 * KiB, seed++);
    const original = await sha256File(base);
    let partial = 0;
    for (let trial = 0; trial < 4; trial++) {
      await copyFile(base, dst);
      const undo = join(dir.path, `killed.${trial}.undo`);
      const run = startBasyn(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '1024', '--undo', undo]);
      // Past the first checkpoint (16 MiB of old blocks saved), the writes are under way.
      while ((await stat(undo).then((s) => s.size, () => 0)) < 16 * 1024 * KiB && run.child.exitCode === null) await sleep(10);
      await sleep(20 + random() * 300);
      run.child.kill('SIGKILL');
      await run.done;
      const changed = (await sha256File(dst)) !== original;
      if (changed && !(await cmp(src, dst))) partial++;
      const r = await runBasyn(['--apply-delta', undo, '-l', dst, '--verbose']);
      assert.equal(r.code, 0, `trial ${trial}: ${describeRun(r)}`);
      assert.equal(await sha256File(dst), original, `trial ${trial}: the destination is not back to its state before the SYNC`);
    }
    assert.ok(partial >= 1, 'no trial was killed between its first and its last write');
  });
});

describe('--undo that cannot be honoured is a usage error (exit 1)', () => {
  const cases: [string, string[], RegExp][] = [
    ['with a dry run', ['-l', 'x', '-r', 'y', '-a', 'PUSH', '-m', 'SYNC', '--dry-run', '--undo', 'u'], /needs a run that writes a destination/],
    ['without an action', ['-l', 'x', '-r', 'y', '--undo', 'u'], /needs a run that writes a destination/],
    ['to standard output', ['-l', 'x', '-r', 'y', '-a', 'PUSH', '-m', 'SYNC', '--undo', '-'], /needs a file/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await runBasyn(args);
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, message);
    });
  }
});
