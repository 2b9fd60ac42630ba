/**
 * A known hole in bitmap crash safety (marked todo until fixed): when basyn is
 * killed, its agent is not; it goes on executing the WRITE frames it has already
 * received (from the pipe, or over SSH from the socket) until it reaches the end of
 * its input. If that agent is slow (a busy or slow destination disk, a loaded remote
 * host; here: paused with SIGSTOP), a new run can complete first and record the new
 * digests, and then the old agent writes the old data over those blocks. The bitmap
 * then claims blocks the destination does not hold, the next run exits 0 without
 * sending them, and the devices differ.
 *
 * A fix needs the destination to be owned by one session at a time (for example an
 * agent-side lock keyed by the device, that a second agent waits for or refuses).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { childPids } from '../test-support/bitmap-files.js';
import { cmp } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

/** Running (not gone, not a zombie nobody reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('bitmap SYNC and an orphaned agent', () => {
  it('a killed run\'s agent that finishes its writes late does not leave a bitmap that lies', {
    todo: 'known bug: the orphaned agent of a killed run can overwrite blocks a later run recorded (see the file comment)',
    timeout: 60_000,
  }, async (t) => {
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

      const first = spawn(process.execPath, [BASYN_BIN, ...args], { stdio: 'ignore' });
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
      if (ended || agent === undefined) return t.skip('the first run ended before its agent could be paused');
      process.kill(agent, 'SIGSTOP');
      await sleep(200);
      first.kill('SIGKILL');
      await closed;

      try {
        // The source changes everywhere; a new run completes while the old agent sleeps.
        await writeFile(src, randomBytes(size));
        const second = await runBasyn(args);
        assert.equal(second.code, 0, second.stderr);
        assert.ok(await cmp(src, dst), 'equal after the second run');
      } finally {
        process.kill(agent, 'SIGCONT');
      }
      // The old agent wakes up, executes the writes it had received, and exits.
      for (let i = 0; i < 500 && alive(agent); i++) await sleep(10);
      const third = await runBasyn(args);
      assert.equal(third.code, 0, third.stderr);
      assert.ok(await cmp(src, dst), 'a bitmap run that exits 0 leaves the devices equal');
    } finally {
      await dir.remove();
    }
  });
});
