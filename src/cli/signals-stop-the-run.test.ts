/**
 * SIGINT, SIGTERM and SIGHUP during COPY, SYNC, bitmap SYNC and --recheck: basyn stops
 * within about two seconds, says it was interrupted (and how far it got), and exits 2;
 * its agent does not outlive it. A second SIGINT right after the first quits at once
 * (exit 2). After an interrupted bitmap SYNC a clean run brings the destination in line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { allocatedBytes, sparseImage, writeCompressibleImage } from '../test-support/fault-fixtures.js';
import { cmp } from '../test-support/images.js';
import { childPids, describeFinished, isAlive, spawnBasyn, waitUntil, type Spawned } from '../test-support/process-tree.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
/** From the signal to the exit. */
const STOP_WITHIN_MS = 3000;

let dir: { path: string; remove(): Promise<void> };
let source: string;
let bigA: string;
let bigB: string;

before(async () => {
  dir = await makeTempDir('basyn-signals-');
  source = join(dir.path, 'source.img');
  await writeCompressibleImage(source, SIZE, 17);
  // Two identical sparse 1 GiB images: a recheck reads and hashes 2 GiB, for seconds, on no disk.
  bigA = join(dir.path, 'big-a.img');
  bigB = join(dir.path, 'big-b.img');
  await sparseImage(bigA, 1024 * MiB);
  await sparseImage(bigB, 1024 * MiB);
});
after(async () => dir.remove());

/** Bytes basyn itself has read so far (its source, or its side of a recheck). */
function bytesRead(pid: number): number {
  try {
    return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

type Mode = 'COPY' | 'SYNC' | 'bitmap SYNC' | 'recheck';

interface Started {
  run: Spawned;
  destination?: string;
  args: string[];
  phase: string;
}

async function startLongRun(mode: Mode, name: string): Promise<Started> {
  if (mode === 'recheck') {
    const args = ['-l', bigA, '-r', bigB, '--recheck', '--buffer', '1'];
    const run = spawnBasyn(args);
    await waitUntil(() => run.exited || bytesRead(run.pid) >= 64 * MiB, 30_000, 'the recheck to be under way');
    return { run, args, phase: 'RECHECK' };
  }
  const destination = join(dir.path, `${name}.img`);
  await sparseImage(destination, SIZE);
  const args = ['-l', source, '-r', destination, '-a', 'PUSH', '-m', mode === 'COPY' ? 'COPY' : 'SYNC', '--zlevel', '9'];
  if (mode === 'bitmap SYNC') args.push('-b', join(dir.path, `${name}.bitmap`));
  const run = spawnBasyn(args);
  await waitUntil(async () => run.exited || (await allocatedBytes(destination)) >= 4 * MiB, 30_000, 'the run to be under way');
  return { run, destination, args, phase: mode === 'COPY' ? 'COPY' : mode === 'SYNC' ? 'SYNC' : 'BITMAP SYNC' };
}

async function assertAgentsGone(agents: number[]): Promise<void> {
  await waitUntil(() => agents.every((p) => !isAlive(p)), 6000, `the agent (${agents.join(', ')}) to exit after basyn`);
}

const MODES: Mode[] = ['COPY', 'SYNC', 'bitmap SYNC', 'recheck'];
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

for (const mode of MODES) {
  for (const signal of SIGNALS) {
    test(`${signal} during ${mode}: stops within seconds, says interrupted, exit 2`, async (t) => {
      const { run, phase } = await startLongRun(mode, `${mode.replace(' ', '-')}-${signal}`);
      assert.equal(run.exited, false, `the run ended before the signal: ${run.stderr}`);
      const agents = childPids(run.pid);
      const sentAt = Date.now();
      process.kill(run.pid, signal);
      const r = await run.timeExit(sentAt);
      t.diagnostic(`exit ${r.code} ${r.ms} ms after ${signal}`);
      assert.equal(r.code, 2, describeFinished(r));
      assert.ok(r.ms < STOP_WITHIN_MS, `stopped ${r.ms} ms after ${signal}`);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 2, JSON.stringify(r.stderr));
      assert.equal(lines[0], `basyn: ${signal} received, stopping (send it again to quit at once)`);
      assert.match(lines[1]!, new RegExp(`^basyn: interrupted by ${signal} during ${phase} after [0-9.]+ (B|KiB|MiB|GiB) of [0-9.]+ (MiB|GiB)`));
      if (mode !== 'recheck') assert.match(lines[1]!, /the destination may be partly written/);
      t.diagnostic(lines[1]!);
      assert.doesNotMatch(r.stderr, /^ {4}at /m);
      await assertAgentsGone(agents);
    });
  }
}

for (const mode of ['COPY', 'bitmap SYNC', 'recheck'] as const) {
  test(`a second SIGINT right after the first during ${mode} quits at once with exit 2`, async () => {
    const { run } = await startLongRun(mode, `twice-${mode.replace(' ', '-')}`);
    const agents = childPids(run.pid);
    process.kill(run.pid, 'SIGINT');
    await waitUntil(() => run.exited || run.stderr.includes('stopping'), 5000, 'the first SIGINT to be seen');
    const sentAt = Date.now();
    if (!run.exited) process.kill(run.pid, 'SIGINT');
    const r = await run.timeExit(sentAt);
    assert.equal(r.code, 2, describeFinished(r));
    assert.ok(r.ms < 1000, `quit ${r.ms} ms after the second SIGINT`);
    assert.match(r.stderr, /SIGINT received again, quitting at once|interrupted by SIGINT/);
    await assertAgentsGone(agents);
  });
}

test('after an interrupted bitmap SYNC, a clean run completes and the devices are equal', async () => {
  const { run, destination, args } = await startLongRun('bitmap SYNC', 'bitmap-resume');
  process.kill(run.pid, 'SIGINT');
  const r = await run.done;
  assert.equal(r.code, 2, describeFinished(r));
  // The same command again (without compression, to be quick); the bitmap is trusted where it says so.
  const again = await runBasyn(args.map((a, i) => (args[i - 1] === '--zlevel' ? '0' : a)), { timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.ok(await cmp(source, destination!), 'the destination differs from the source after the clean run');
  // And a recheck agrees.
  const check = await runBasyn(['-l', source, '-r', destination!, '--recheck'], { timeoutMs: 60_000 });
  assert.equal(check.code, 0, check.stderr);
});
