/**
 * basyn never leaves its ssh client or its local agent behind, and an agent whose
 * client is gone stops within seconds even when it is busy:
 *
 * - basyn killed with -9 in the middle of a PUSH, while its agent works off a queue of
 *   writes on a slow disk: the agent (and ssh) are gone within seconds, not once the
 *   queue is written;
 * - one SIGTERM while the agent does not answer: basyn gives up waiting for it within
 *   seconds, exits 2 saying the destination may be partly written, and leaves neither
 *   ssh nor a local agent behind;
 * - two SIGTERMs while the agent does not answer (stopped, as a thrashing one is for
 *   seconds at a time): basyn exits at once with exit 2, and no ssh client and no
 *   local agent is left; the stuck remote agent, once it runs again, stops within
 *   seconds;
 * - either way the next run is not refused as busy, and leaves the devices equal.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { pidsWithFileOpen } from '../test-support/bitmap-files.js';
import { sparseImage, sshdOrSkip, stopSshdAfterFile, writeCompressibleImage } from '../test-support/fault-fixtures.js';
import { cmp } from '../test-support/images.js';
import {
  allocatedNow, childPids, cmdline, describeFinished, isAlive, spawnBasyn, spawnStoppedEarly, waitUntil,
} from '../test-support/process-tree.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { slowDiskNode } from '../test-support/slow-disk-agent.js';
import type { SshdFixture } from '../test-support/sshd.js';
import { makeTempDir } from '../test-support/temp-dir.js';

stopSshdAfterFile();

const MiB = 1024 * 1024;
/** From basyn's end to its agent's and ssh's; generous for a loaded machine. */
const GONE_WITHIN_MS = 8000;

let dir: { path: string; remove(): Promise<void> };
let slowNode: string;

before(async () => {
  dir = await makeTempDir('basyn-orphans-');
  slowNode = await slowDiskNode(dir.path);
});
after(async () => dir.remove());

type Place = 'through a local agent' | 'over ssh';
const PLACES: Place[] = ['through a local agent', 'over ssh'];

async function placeArgs(t: TestContext, place: Place): Promise<Where | undefined> {
  if (place === 'through a local agent') return { hostArgs: [] };
  const sshd = await sshdOrSkip(t);
  return sshd === undefined ? undefined : { hostArgs: ['-h', sshd.host, '-p', String(sshd.port)], sshd };
}

type Where = { hostArgs: string[]; sshd?: SshdFixture };

/**
 * A PUSH of compressible data at --zlevel 9 (slow enough to catch in the middle), stopped
 * early, with its agent (the one process besides basyn that has the destination open)
 * and, over ssh, its ssh client found.
 */
async function runCaughtInTheMiddle(where: Where, place: Place, name: string, seed: number, modeArgs: string[]) {
  const size = 64 * MiB;
  const source = join(dir.path, `${name}-source.img`);
  const destination = join(dir.path, `${name}-destination.img`);
  await writeCompressibleImage(source, size, seed);
  const { run } = await spawnStoppedEarly(
    ['-l', source, '-r', destination, '-a', 'PUSH', ...modeArgs, '--zlevel', '9', '--remote-node', process.execPath, ...where.hostArgs],
    { env: where.sshd?.env, prepare: () => sparseImage(destination, size), progress: () => allocatedNow(destination), latest: size / 2 },
  );
  const agents = holders(destination, [run.pid]);
  assert.equal(agents.length, 1, `one agent with the destination open, found ${agents.length}`);
  const ssh = sshChild(run.pid);
  if (place === 'over ssh') assert.ok(ssh !== undefined, 'no ssh child of basyn');
  return { source, destination, run, agents, ssh };
}

/** The ssh client among basyn's children, if any. */
function sshChild(basyn: number): number | undefined {
  return childPids(basyn).find((p) => /(^|\/)ssh$/.test(cmdline(p)[0] ?? '') || cmdline(p).includes('BatchMode=yes'));
}

/** Every process but this one that has `file` open: the agent writing it, on either side. */
function holders(file: string, except: number[] = []): number[] {
  return pidsWithFileOpen(file, [process.pid, ...except]);
}

async function assertAllGone(pids: number[], what: string): Promise<void> {
  await waitUntil(() => pids.every((p) => !isAlive(p)), GONE_WITHIN_MS, `${what} (${pids.join(', ')}) to be gone`, 50);
}

/** The same PUSH again, with a plain agent: it must run (not be refused as busy) and leave the devices equal. */
async function assertNextRunRepairs(source: string, destination: string, hostArgs: string[], env: NodeJS.ProcessEnv | undefined): Promise<void> {
  const again = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '--remote-node', process.execPath, ...hostArgs], { env, timeoutMs: 60_000 });
  assert.equal(again.code, 0, `the next run: ${again.stderr}`);
  assert.ok(await cmp(source, destination), 'the devices differ after the next run');
}

for (const place of PLACES) {
  test(`basyn killed with -9 ${place} while the agent works off a queue of slow writes: the agent${place === 'over ssh' ? ' and ssh are' : ' is'} gone within seconds`, async (t) => {
    const where = await placeArgs(t, place);
    if (where === undefined) return;
    // Locally 160 MiB: more than the agent's write backlog, so it stops reading its
    // input and can only learn from its parent's end that basyn is gone. Over ssh the
    // whole source fits in the backlog, and the agent sees its input end behind it.
    const size = place === 'over ssh' ? 48 * MiB : 160 * MiB;
    const name = place === 'over ssh' ? 'kill9-ssh' : 'kill9-local';
    const source = join(dir.path, `${name}-source.img`);
    const destination = join(dir.path, `${name}-destination.img`);
    await writeCompressibleImage(source, size, 7);
    await sparseImage(destination, size);
    const run = spawnBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'COPY', '--buffer', '64', '--zlevel', '0',
      '--remote-node', slowNode, ...where.hostArgs], { env: where.sshd?.env });
    const spawnedAt = Date.now();
    // The slow disk writes about 3 MiB/s: by the time 1 MiB has landed, basyn has sent
    // far more than that, which the agent holds as a queue of work of many seconds.
    await waitUntil(() => run.exited || allocatedNow(destination) >= MiB, 30_000, 'the first writes to land');
    if (run.exited) assert.fail(`the run ended before it could be killed: ${describeFinished(await run.done)}`);
    t.diagnostic(`writes landing ${Date.now() - spawnedAt} ms after the start`);
    await new Promise((r) => setTimeout(r, 500));
    const agents = holders(destination, [run.pid]);
    t.diagnostic(`agents ${agents.join(' ')} found ${Date.now() - spawnedAt} ms after the start`);
    assert.ok(agents.length >= 1, 'no agent has the destination open');
    const ssh = sshChild(run.pid);
    if (place === 'over ssh') assert.ok(ssh !== undefined, 'no ssh child of basyn');
    const killedAt = Date.now();
    if (!run.child.kill('SIGKILL')) assert.fail(`basyn ended before it could be killed: ${describeFinished(await run.done)}`);
    await run.done;
    await assertAllGone([...agents, ...(ssh !== undefined ? [ssh] : [])], 'the agent and ssh');
    t.diagnostic(`agent${ssh !== undefined ? ' and ssh' : ''} gone ${Date.now() - killedAt} ms after basyn was killed, with ${(allocatedNow(destination) / MiB).toFixed(1)} MiB of ${size / MiB} written`);
    assert.deepEqual(holders(destination), [], 'something still has the destination open');
    await assertNextRunRepairs(source, destination, where.hostArgs, where.sshd?.env);
  });
}

for (const place of PLACES) {
  test(`two SIGTERMs ${place} while the agent does not answer: basyn exits at once with exit 2, leaving no ${place === 'over ssh' ? 'ssh client' : 'agent'} behind`, async (t) => {
    const where = await placeArgs(t, place);
    if (where === undefined) return;
    const name = place === 'over ssh' ? 'twice-ssh' : 'twice-local';
    const { source, destination, run, agents, ssh } = await runCaughtInTheMiddle(where, place, name, 9, ['-m', 'COPY']);
    // The agent stops answering (as one thrashing does), then basyn runs on and is told to stop.
    process.kill(agents[0]!, 'SIGSTOP');
    try {
      process.kill(run.pid, 'SIGCONT');
      process.kill(run.pid, 'SIGTERM');
      await waitUntil(() => run.exited || run.stderr.includes('stopping'), 10_000, 'the first SIGTERM to be seen');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(run.exited, false, `basyn ended after the first SIGTERM although its agent does not answer: ${run.stderr}`);
      const sentAt = Date.now();
      process.kill(run.pid, 'SIGTERM');
      const r = await run.timeExit(sentAt);
      t.diagnostic(`exit ${r.code} ${r.ms} ms after the second SIGTERM`);
      assert.equal(r.code, 2, describeFinished(r));
      assert.ok(r.ms < 3000, `exited ${r.ms} ms after the second SIGTERM`);
      assert.match(r.stderr, /SIGTERM received again, quitting at once/);
      assert.doesNotMatch(r.stderr, /^ {4}at /m);
      if (ssh !== undefined) await assertAllGone([ssh], 'the ssh client');
      // A local agent is basyn's child: killed with it, even stopped.
      if (place === 'through a local agent') await assertAllGone(agents, 'the local agent');
    } finally {
      if (isAlive(agents[0]!)) process.kill(agents[0]!, 'SIGCONT');
    }
    // The remote agent, running again, finds its client gone and stops.
    await assertAllGone(agents, 'the agent');
    assert.deepEqual(holders(destination), [], 'something still has the destination open');
    await assertNextRunRepairs(source, destination, where.hostArgs, where.sshd?.env);
  });
}

// The bitmap case: a run that quits after its grace never reaches its lock's release;
// the lock file must still not outlive it.
const ONE_SIGTERM = [...PLACES.map((place) => ({ place, bitmap: false })), { place: PLACES.find((p) => p !== 'over ssh')!, bitmap: true }];

for (const { place, bitmap } of ONE_SIGTERM) {
  test(`one SIGTERM ${place}${bitmap ? ' in a bitmap run' : ''} while the agent does not answer: basyn quits within seconds with exit 2, leaving no ${place === 'over ssh' ? 'ssh client' : 'agent'}${bitmap ? ' and no bitmap lock' : ''} behind`, async (t) => {
    const where = await placeArgs(t, place);
    if (where === undefined) return;
    const name = `${place === 'over ssh' ? 'once-ssh' : 'once-local'}${bitmap ? '-bitmap' : ''}`;
    const bitmapFile = join(dir.path, `${name}.bitmap`);
    const mode = bitmap ? ['-m', 'SYNC', '-b', bitmapFile] : ['-m', 'COPY'];
    const { source, destination, run, agents, ssh } = await runCaughtInTheMiddle(where, place, name, 11, mode);
    process.kill(agents[0]!, 'SIGSTOP');
    try {
      process.kill(run.pid, 'SIGCONT');
      const sentAt = Date.now();
      process.kill(run.pid, 'SIGTERM');
      const r = await run.timeExit(sentAt);
      t.diagnostic(`exit ${r.code} ${r.ms} ms after the only SIGTERM`);
      assert.equal(r.code, 2, describeFinished(r));
      // The grace is 10 s (cli/main.ts): soon after it, not at once.
      assert.ok(r.ms >= 9000 && r.ms < 17_000, `exited ${r.ms} ms after the SIGTERM`);
      assert.match(r.stderr, /SIGTERM received, stopping/);
      assert.match(r.stderr, /did not stop within 10 s of SIGTERM.*the destination may be partly written/);
      assert.doesNotMatch(r.stderr, /^ {4}at /m);
      if (ssh !== undefined) await assertAllGone([ssh], 'the ssh client');
      if (place === 'through a local agent') await assertAllGone(agents, 'the local agent');
      if (bitmap) assert.equal(existsSync(`${bitmapFile}.lock`), false, 'the bitmap lock outlived the run');
    } finally {
      if (isAlive(agents[0]!)) process.kill(agents[0]!, 'SIGCONT');
    }
    await assertAllGone(agents, 'the agent');
    assert.deepEqual(holders(destination), [], 'something still has the destination open');
    await assertNextRunRepairs(source, destination, where.hostArgs, where.sshd?.env);
  });
}
