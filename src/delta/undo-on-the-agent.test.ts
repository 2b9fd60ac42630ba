/**
 * --undo with a destination behind the agent (over ssh, and through a local agent):
 * the agent writes the undo file on its machine (UNDO_OPEN), and --apply-delta of it
 * through the agent gives back the destination byte for byte; an existing file there
 * is refused before anything is written; and the undo file of a SYNC killed with
 * SIGKILL part-way restores what that run overwrote and nothing else.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cmp, imagePair, sha256File, writeImage } from '../test-support/images.js';
import { prng } from '../test-support/prng.js';
import { describeRun, runBasyn, startBasyn } from '../test-support/run-basyn.js';
import { agentTargets, LOCAL_AGENT } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const KiB = 1024;
const SIZE = 2 * 1024 * KiB + 777;
const dir = tempDirForFile('basyn-undo-agent-');
let seed = 900;

/** A source and a destination that differs from it in a few places (test-support's imagePair). */
async function pair(name: string): Promise<{ src: string; dst: string; original: string }> {
  const p = await imagePair(dir.path, name, SIZE, (seed += 3), [0, 100 * KiB, 900 * KiB, SIZE - 50], 40);
  return { src: p.source, dst: p.destination, original: await sha256File(p.destination) };
}

describe('an undo file kept by the agent rolls its run back', async () => {
  for (const { target, skip } of await agentTargets()) {
    const env = target.env ?? process.env;
    const ok = async (args: string[]): Promise<string> => {
      const r = await runBasyn([...args, ...target.args], { env });
      assert.equal(r.code, 0, describeRun(r));
      return r.stdout;
    };
    const name = (what: string): string => `${what}, ${target.name}`.replace(/\W+/g, '-');

    it(`SYNC, then --apply-delta of its undo through the agent (${target.name})`, { skip }, async () => {
      const { src, dst, original } = await pair(name('sync'));
      const undo = join(dir.path, `${name('sync')}.undo`);
      const out = await ok(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--undo', undo, '--stat']);
      assert.match(out, /^UNDO\. Saved: 4 entries, data 197385B, file \d+B\./m);
      assert.equal(await cmp(src, dst), true, 'the run synced');
      assert.equal((await stat(undo)).size, Number(/file (\d+)B/.exec(out)![1]), 'the figures are those of the file');
      await ok(['--apply-delta', undo, '-r', dst]);
      assert.equal(await sha256File(dst), original, 'the undo gave back the destination as it was');
    });

    it(`COPY, and an apply whose own undo (kept by the agent) re-applies it (${target.name})`, { skip }, async () => {
      const { src, dst, original } = await pair(name('copy'));
      const undo = join(dir.path, `${name('copy')}.undo`);
      await ok(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'COPY', '--buffer', '64', '--undo', undo]);
      assert.equal(await cmp(src, dst), true);
      const redo = join(dir.path, `${name('copy')}.redo`);
      await ok(['--apply-delta', undo, '-r', dst, '--undo', redo]);
      assert.equal(await sha256File(dst), original);
      await ok(['--apply-delta', redo, '-r', dst]);
      assert.equal(await cmp(src, dst), true, 'the undo of the undo');
    });

    it(`--undo=~/NAME is NAME in the home directory of the agent's user, as -r is (${target.name})`, { skip }, async () => {
      const { src, dst, original } = await pair(name('tilde'));
      // basyn's own HOME is a folder of its own: the path is taken on the agent's side.
      const ownHome = join(dir.path, name('home'));
      await mkdir(ownHome);
      const file = `basyn-undo-test-${process.pid}-${name('tilde')}.undo`;
      const there = join(target === LOCAL_AGENT ? ownHome : userInfo().homedir, file);
      try {
        const r = await runBasyn(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--undo', `~/${file}`, ...target.args], { env: { ...env, HOME: ownHome } });
        assert.equal(r.code, 0, describeRun(r));
        await ok(['--apply-delta', there, '-r', dst]);
        assert.equal(await sha256File(dst), original);
      } finally {
        await rm(there, { force: true });
      }
    });

    it(`an existing undo file on the destination's machine is refused, nothing written (${target.name})`, { skip }, async () => {
      const { src, dst, original } = await pair(name('exists'));
      const undo = join(dir.path, `${name('exists')}.undo`);
      await copyFile(src, undo);
      const before = await sha256File(undo);
      const r = await runBasyn(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--undo', undo, ...target.args], { env });
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, /cannot create undo file.*EEXIST/);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      assert.equal(await sha256File(undo), before);
      assert.equal(await sha256File(dst), original, 'nothing was written without its undo');
    });
  }

  it('SYNC through a local agent under --sudo, then its undo applied the same way', { skip: process.getuid?.() === 0 ? false : 'sudo -n works here for root only' }, async () => {
    const { src, dst, original } = await pair('sudo');
    const undo = join(dir.path, 'sudo.undo');
    const run = async (args: string[]): Promise<void> => {
      const r = await runBasyn([...args, '--sudo']);
      assert.equal(r.code, 0, describeRun(r));
    };
    await run(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--undo', undo]);
    assert.equal(await cmp(src, dst), true);
    await run(['--apply-delta', undo, '-r', dst]);
    assert.equal(await sha256File(dst), original);
  });

  it('a SYNC through a local agent killed with SIGKILL part-way: its undo restores what it overwrote', async () => {
    const random = prng(11);
    const src = join(dir.path, 'killed.src');
    const base = join(dir.path, 'killed.base');
    const dst = join(dir.path, 'killed.dst');
    // All blocks differ, so the agent's 16 MiB undo batches cut the run in three.
    const size = 40 * 1024 * KiB;
    await writeImage(src, size, seed++);
    await writeImage(base, size, seed++);
    const original = await sha256File(base);
    let partial = 0;
    for (let trial = 0; trial < 3; trial++) {
      await copyFile(base, dst);
      const undo = join(dir.path, `killed.${trial}.undo`);
      const run = startBasyn(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '1024', '--undo', undo, ...LOCAL_AGENT.args]);
      // Past the agent's first checkpoint (16 MiB of old blocks saved), writes are under way.
      while ((await stat(undo).then((s) => s.size, () => 0)) < 16 * 1024 * KiB && run.child.exitCode === null) await sleep(10);
      await sleep(random() * 200);
      run.child.kill('SIGKILL');
      await run.done;
      const changed = (await sha256File(dst)) !== original;
      if (changed && !(await cmp(src, dst))) partial++;
      // The agent left behind finishes its issued writes first: the apply waits for its device lock.
      const r = await runBasyn(['--apply-delta', undo, '-r', dst, '--verbose', ...LOCAL_AGENT.args]);
      assert.equal(r.code, 0, `trial ${trial}: ${describeRun(r)}`);
      assert.equal(await sha256File(dst), original, `trial ${trial}: the destination is not back to its state before the SYNC`);
    }
    assert.ok(partial >= 1, 'no trial was killed between its first and its last write');
  });
});
