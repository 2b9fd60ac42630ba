/**
 * SIGINT, SIGTERM and SIGHUP during COPY, SYNC, bitmap SYNC and --recheck: basyn stops
 * within about two seconds, says it was interrupted (and how far it got), and exits 2;
 * its agent does not outlive it. A second SIGINT right after the first quits at once
 * (exit 2). After an interrupted bitmap SYNC a clean run brings the destination in line.
 *
 * Locally basyn opens both devices itself, and runs through a local agent (asked for
 * with --remote-node) check the agent's end. A run in this process is too quick to
 * signal from outside at the right moment: each run is stopped (SIGSTOP) once under
 * way, signalled, and continued, so the signal is taken in the middle of it.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sparseImage, writeCompressibleImage } from '../test-support/fault-fixtures.js';
import { cmp } from '../test-support/images.js';
import {
  allocatedNow, bytesReadBy, childPids, describeFinished, isAlive, spawnStoppedEarly, waitUntil, type Spawned,
} from '../test-support/process-tree.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
/**
 * From the signal to the exit. Generous on purpose: a run that ignored the signal would
 * go on for much longer (the stderr lines prove it stopped because of the signal), and
 * a shared CI machine at a load of 20 can take seconds to schedule a process.
 */
const STOP_WITHIN_MS = 15_000;
/** From the second SIGINT to the exit: "at once", but on a loaded machine. */
const QUIT_WITHIN_MS = 5_000;

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

type Mode = 'COPY' | 'SYNC' | 'bitmap SYNC' | 'recheck';
type Place = 'locally' | 'through a local agent';

interface Started {
  /** Stopped (SIGSTOP): signal it, then `go`. */
  run: Spawned;
  destination?: string;
  args: string[];
  phase: string;
  /** The agent children of basyn (none locally). */
  agents: number[];
}

/** Starts a long run and stops it once under way, with most of it still to do. */
async function startLongRun(mode: Mode, name: string, place: Place): Promise<Started> {
  const where = place === 'locally' ? [] : LOCAL_AGENT.args;
  let started: { run: Spawned };
  let destination: string | undefined;
  let args: string[];
  if (mode === 'recheck') {
    args = ['-l', bigA, '-r', bigB, '--recheck', '--buffer', '1', ...where];
    // Stopped with at most a quarter of the 2 GiB read (by basyn: in-process, both devices).
    started = await spawnStoppedEarly(args, { progress: (run) => bytesReadBy(run.pid), atLeast: 64 * MiB, latest: 512 * MiB });
  } else {
    const to = join(dir.path, `${name}.img`);
    destination = to;
    args = ['-l', source, '-r', to, '-a', 'PUSH', '-m', mode === 'COPY' ? 'COPY' : 'SYNC', '--zlevel', '9', ...where];
    if (mode === 'bitmap SYNC') args.push('-b', join(dir.path, `${name}.bitmap`));
    started = await spawnStoppedEarly(args, {
      prepare: async () => {
        await sparseImage(to, SIZE);
        await rm(join(dir.path, `${name}.bitmap`), { force: true });
      },
      progress: () => allocatedNow(to),
      latest: SIZE / 2,
    });
  }
  const agents = childPids(started.run.pid);
  if (place !== 'locally') assert.equal(agents.length, 1, `one agent child of basyn, found ${agents.length}`);
  return { run: started.run, destination, args, phase: mode === 'COPY' ? 'COPY' : mode === 'SYNC' ? 'SYNC' : mode === 'recheck' ? 'RECHECK' : 'BITMAP SYNC', agents };
}

/** Lets a stopped run go on (it then takes the signals sent meanwhile). */
function go(run: Spawned): void {
  process.kill(run.pid, 'SIGCONT');
}

async function assertAgentsGone(agents: number[]): Promise<void> {
  await waitUntil(() => agents.every((p) => !isAlive(p)), 6000, `the agent (${agents.join(', ')}) to exit after basyn`);
}

const MODES: Mode[] = ['COPY', 'SYNC', 'bitmap SYNC', 'recheck'];
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const PLACES: Place[] = ['locally', 'through a local agent'];

for (const place of PLACES) {
  for (const mode of MODES) {
    for (const signal of SIGNALS) {
      const gone = place === 'locally' ? '' : ', and its agent ends';
      test(`${signal} during ${mode} ${place}: stops within seconds, says interrupted, exit 2${gone}`, async (t) => {
        const { run, phase, agents } = await startLongRun(mode, `${place === 'locally' ? '' : 'agent-'}${mode.replace(' ', '-')}-${signal}`, place);
        const sentAt = Date.now();
        process.kill(run.pid, signal);
        go(run);
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
}

for (const place of PLACES) {
  for (const mode of ['COPY', 'bitmap SYNC', 'recheck'] as const) {
    const gone = place === 'locally' ? '' : ', and its agent ends';
    test(`a second SIGINT right after the first during ${mode} ${place} quits at once with exit 2${gone}`, async () => {
      const { run, agents } = await startLongRun(mode, `twice-${place === 'locally' ? '' : 'agent-'}${mode.replace(' ', '-')}`, place);
      process.kill(run.pid, 'SIGINT');
      go(run);
      await waitUntil(() => run.exited || run.stderr.includes('stopping'), 5000, 'the first SIGINT to be seen');
      const sentAt = Date.now();
      if (!run.exited) process.kill(run.pid, 'SIGINT');
      const r = await run.timeExit(sentAt);
      assert.equal(r.code, 2, describeFinished(r));
      assert.ok(r.ms < QUIT_WITHIN_MS, `quit ${r.ms} ms after the second SIGINT`);
      assert.match(r.stderr, /SIGINT received again, quitting at once|interrupted by SIGINT/);
      await assertAgentsGone(agents);
    });
  }
}

test('after an interrupted bitmap SYNC, a clean run completes and the devices are equal', async () => {
  const { run, destination, args } = await startLongRun('bitmap SYNC', 'bitmap-resume', 'locally');
  process.kill(run.pid, 'SIGINT');
  go(run);
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
