/**
 * run() starts the agent first and connects to it later (after loading the digest
 * and opening the local device). An agent that dies in between must still end the
 * run at once with a clear error: its output (and its end) must not be lost because
 * nobody was reading it yet when it exited (Node's child_process discards unread
 * stdio of an exited child).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RemoteDevice } from '../device/remote-device.js';
import { hashByName } from '../hash/hash-algorithms.js';
import { childPids } from '../test-support/bitmap-files.js';
import { writeImage } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { AgentProcess } from './agent-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))),
  ]);
}

describe('an agent that dies before the client connects', () => {
  it('fails the connection at once with the reason', async () => {
    // "node" that exits at once: the agent is gone before anyone reads its output.
    const agent = await AgentProcess.start({ remoteNode: 'true' });
    await agent.exited;
    await sleep(100);
    const connecting = RemoteDevice.connect(agent, { path: 'x.img', writable: false, hash: hashByName('SHA1')!, compress: { compress: 'zlib', level: 1 }, blockSize: 65536 });
    await assert.rejects(within(connecting, 10_000, 'the connection failing'), (e: Error) => {
      assert.match(e.message, /agent on this machine/);
      return true;
    });
    await agent.close();
  });

  it('through the command: killing the agent as soon as it starts ends basyn with exit 2', { timeout: 120_000 }, async () => {
    const dir = await makeTempDir('basyn-agent-dies-');
    try {
      const src = join(dir.path, 'source.img');
      const dst = join(dir.path, 'destination.img');
      await writeImage(src, 8 * 1024 * 1024, 1);
      await writeImage(dst, 8 * 1024 * 1024, 2);
      for (let i = 0; i < 5; i++) {
        // --remote-node: a run without -h starts an agent only when asked to.
        const args = ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', ...LOCAL_AGENT.args];
        const child = spawn(process.execPath, [BASYN_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
        let ended = false;
        const closed = new Promise<number | null>((resolve) => child.on('close', (code) => {
          ended = true;
          resolve(code);
        }));
        let killed = false;
        while (!ended) {
          const agentPid = childPids(child.pid!)[0];
          if (agentPid !== undefined) {
            process.kill(agentPid, 'SIGKILL');
            killed = true;
            break;
          }
          await sleep(1);
        }
        const code = await within(closed, 15_000, `basyn ending after its agent was killed (attempt ${i})`).catch((error: unknown) => {
          child.kill('SIGKILL');
          throw error;
        });
        assert.ok(killed, `attempt ${i}: basyn ended (exit ${code}) before its agent was seen: ${stderr}`);
        assert.ok(code === 2 || code === 0, `exit ${code}: ${stderr}`);
        if (code === 2) assert.match(stderr, /agent on this machine/);
      }
    } finally {
      await dir.remove();
    }
  });
});
