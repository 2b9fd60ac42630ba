/**
 * SIGINT and SIGTERM during a long run stop it cleanly: exit 2 within a few
 * seconds, a message saying it was interrupted, no stack trace, and no ssh left
 * behind. The run is a COPY of a few hundred MiB of random data, long enough to be
 * caught in the middle.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeImage } from '../test-support/images.js';
import { describeRun, startBasyn } from '../test-support/run-basyn.js';
import { LOCAL, sshTarget, type Target } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const MiB = 1024 * 1024;
const SIZE = 320 * MiB;

const ssh = await sshTarget();
let dir: { path: string; remove(): Promise<void> };
let source: string;
let n = 0;

before(async () => {
  dir = await makeTempDir();
  source = join(dir.path, 'source.img');
  await writeImage(source, SIZE, 42);
});
after(async () => {
  await dir.remove();
});

/** Command lines of running processes that look like our ssh to this sshd. */
async function sshProcessesTo(port: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (args.some((a) => /(^|\/)ssh$/.test(a)) && args.includes(port) && args.includes('BatchMode=yes')) found.push(args.join(' '));
  }
  return found;
}

async function interrupt(target: Target, action: 'PUSH' | 'PULL', signal: 'SIGINT' | 'SIGTERM', extra: string[]): Promise<void> {
  n++;
  const other = join(dir.path, `other${n}.img`);
  await writeFile(other, '');
  await truncate(other, SIZE);
  const [local, remote] = action === 'PUSH' ? [source, other] : [other, source];
  try {
    await interruptOnce(target, action, signal, extra, local, remote);
  } finally {
    await rm(other, { force: true }); // up to a few hundred MiB each
  }
}

async function interruptOnce(target: Target, action: 'PUSH' | 'PULL', signal: 'SIGINT' | 'SIGTERM', extra: string[], local: string, remote: string): Promise<void> {
  const run = startBasyn(['-l', local, '-r', remote, ...target.args, '-a', action, ...extra, '--verbose'], { env: target.env, timeoutMs: 60_000 });
  // The action has begun once this line is out; then let data flow a little.
  await run.waitFor(new RegExp(`${action} \\w+ of ${SIZE} bytes`));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(run.child.exitCode, null, `the run ended before it could be interrupted: ${run.stdout}`);
  const sent = Date.now();
  run.child.kill(signal);
  const r = await run.done;
  const seconds = (Date.now() - sent) / 1000;
  assert.equal(r.code, 2, describeRun(r));
  // Generous: a shared machine at a high load can take seconds to schedule; a run that
  // ignored the signal would not say 'interrupted' below.
  assert.ok(seconds < 15, `took ${seconds} s to stop after ${signal}`);
  assert.match(r.stderr, /interrupted/i);
  assert.ok(r.stderr.includes(signal), `the signal is not named: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, `stack trace or raw error: ${r.stderr}`);
  assert.doesNotMatch(r.stdout, /finished/, 'the run claims to have finished');
  if (target.name === 'SSH') {
    const port = target.args[target.args.indexOf('-p') + 1]!;
    let left = await sshProcessesTo(port);
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await sshProcessesTo(port);
    }
    assert.deepEqual(left, [], 'ssh is still running after basyn exited');
  }
}

describe('interrupting a long run', () => {
  test('SIGINT during a PUSH COPY --zlevel=9 over SSH', { skip: typeof ssh === 'string' ? `no sshd: ${ssh}` : undefined }, async () => {
    await interrupt(ssh as Target, 'PUSH', 'SIGINT', ['-m', 'COPY', '--zlevel=9']);
  });
  test('SIGTERM during a PULL COPY --zlevel=9 over SSH', { skip: typeof ssh === 'string' ? `no sshd: ${ssh}` : undefined }, async () => {
    await interrupt(ssh as Target, 'PULL', 'SIGTERM', ['-m', 'COPY', '--zlevel=9']);
  });
  test('SIGTERM during a PUSH SYNC over SSH', { skip: typeof ssh === 'string' ? `no sshd: ${ssh}` : undefined }, async () => {
    await interrupt(ssh as Target, 'PUSH', 'SIGTERM', ['-m', 'SYNC', '--buffer=64', '--hash=SHA512']);
  });
  test('SIGINT during a local PULL SYNC with small blocks', async () => {
    await interrupt(LOCAL, 'PULL', 'SIGINT', ['-m', 'SYNC', '--buffer=4', '--hash=SHA512']);
  });
});
