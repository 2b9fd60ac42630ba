/**
 * When basyn is killed its agent is not: it goes on executing the WRITE frames it has
 * already received (from the pipe, or over SSH from the socket) until it reaches the
 * end of its input. If that agent is slow (a busy disk, a loaded remote host; here:
 * paused with SIGSTOP), a new run must not write the same destination meanwhile:
 * otherwise it could record new digests and then see the old agent write old data
 * over those blocks, leaving a bitmap that claims blocks the destination does not
 * hold (the next run would exit 0 with the devices different).
 *
 * basyn keeps one writer per device on a host: the new run waits (writing nothing)
 * while the old agent lives, then goes ahead; the devices end equal and the bitmap
 * right.
 *
 * The killed run has a local agent because it asks for one (--remote-node): without
 * it basyn opens both devices itself. The new runs are plain local runs, whose own
 * writer must wait for the orphaned agent all the same.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { childPids } from '../test-support/bitmap-files.js';
import { cmp, sha256File } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { runBasyn, type BasynRun } from '../test-support/run-basyn.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('bitmap SYNC and an orphaned agent', () => {
  it('a killed run\'s agent that finishes its writes late does not leave a bitmap that lies', { timeout: 90_000 }, async (t) => {
    const dir = await makeTempDir('basyn-bitmap-orphan-');
    try {
      const size = 32 * 1024 * 1024;
      const src = join(dir.path, 'source.img');
      const dst = join(dir.path, 'destination.img');
      const bitmap = join(dir.path, 'image.bitmap');
      await writeFile(src, randomBytes(size));
      await writeFile(dst, randomBytes(size));
      // Small blocks, so whole WRITE frames fit in the pipe the paused agent leaves behind.
      const args = ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', '16', '--zlevel', '0'];

      const first = spawn(process.execPath, [BASYN_BIN, ...args, ...LOCAL_AGENT.args], { stdio: 'ignore' });
      let ended = false;
      const closed = new Promise<void>((resolve) => first.on('close', () => resolve()));
      void closed.then(() => (ended = true));
      let agent: number | undefined;
      while (!ended && agent === undefined) {
        agent = childPids(first.pid!)[0];
        await sleep(1);
      }
      // Pause the agent once the writes are flowing, then kill basyn.
      while (!ended && agent !== undefined) {
        const rchar = Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${agent}/io`, 'utf8'))?.[1] ?? 0);
        if (rchar > 4 * 1024 * 1024) break;
        await sleep(1);
      }
      assert.ok(agent !== undefined, 'the first run started no local agent');
      if (ended) return t.skip('the first run ended before its agent could be paused');
      process.kill(agent, 'SIGSTOP');
      await sleep(200);
      first.kill('SIGKILL');
      await closed;

      // The source changes everywhere; a new run starts while the old agent sleeps, and
      // must not write until the old agent has finished.
      await writeFile(src, randomBytes(size));
      const destinationWhilePaused = await sha256File(dst);
      const second: Promise<BasynRun> = runBasyn(args, { timeoutMs: 60_000 });
      try {
        await sleep(1500);
        assert.equal(await sha256File(dst), destinationWhilePaused, 'the new run writes nothing while the old agent lives');
      } catch (error) {
        process.kill(agent, 'SIGCONT');
        await second; // let it end before the folder goes
        throw error;
      }
      process.kill(agent, 'SIGCONT');
      // The old agent wakes up, executes the writes it had received and exits; then the
      // new run goes ahead.
      const r2 = await second;
      assert.equal(r2.code, 0, r2.stderr);
      assert.ok(await cmp(src, dst), 'equal after the run that waited');
      const third = await runBasyn([...args, '--debug']);
      assert.equal(third.code, 0, third.stderr);
      assert.match(third.stderr, /debug: remote device read \d+ bytes, wrote 0 bytes/, 'nothing left to send');
      assert.ok(await cmp(src, dst), 'a bitmap run that exits 0 leaves the devices equal');
    } finally {
      await dir.remove();
    }
  });
});
