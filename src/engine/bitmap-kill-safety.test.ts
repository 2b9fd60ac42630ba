/**
 * Crash safety of bitmap SYNC (DESIGN.md: an entry equals a source digest only if the
 * destination durably holds that block). Runs are killed with SIGKILL at random
 * moments: the local basyn process, then (separately) the agent side: the local
 * agent child (started with --remote-node: without -h basyn opens both devices
 * itself and starts no agent), and over SSH the ssh client child. Between trials the
 * source changes, some blocks going BACK to an earlier content, which is what
 * catches a bitmap that recorded a digest before its block was written.
 *
 * After every trial (once any orphaned agent has finished) each known bitmap entry
 * must equal the digest of the destination's block. After one final clean run the
 * devices are equal, and a further run sends no data block.
 *
 * The seed is printed; BASYN_KILL_SEED=<n> reproduces a run's choices (the moments
 * of the kills depend on timing as well).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  blockDigestsOf, childPids, entriesOf, ORIGINAL_MAGIC, parseBitmap, parseDebugIo, waitUntilClosedByAll,
} from '../test-support/bitmap-files.js';
import { cmp, seededImage } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { parseStat, runBasyn } from '../test-support/run-basyn.js';
import { sharedSshd, type SshdFixture } from '../test-support/sshd.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { prng } from '../test-support/prng.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 256 * KiB;
/**
 * 48 MiB and a short block: 193 blocks, several commit batches (8 MiB or 1024 blocks
 * each) in a full send. Half of what it was, to keep CI's time: the kill moments are
 * drawn over the whole run either way.
 */
const SIZE = 48 * MiB + 100 * KiB;
const BLOCKS = Math.ceil(SIZE / BLOCK);
const BASYN_TRIALS = 20;
const AGENT_TRIALS = 20;
const SSH_CLIENT_TRIALS = 10;
/** Graceful interruptions (SIGTERM): the run stops, finishes its commits and unlocks. */
const TERM_TRIALS = 6;

const SEED = process.env.BASYN_KILL_SEED !== undefined ? Number(process.env.BASYN_KILL_SEED) : Math.floor(Math.random() * 2 ** 31);
const random = prng(SEED);
const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

/**
 * The source, block by block: each block has a list of contents it has had (version 0
 * is the initial image), so a block can be set back to any earlier one.
 */
class Source {
  private readonly pool: Buffer;
  private nextVersion = 1;
  readonly history: number[][] = [];
  readonly current: number[] = [];
  constructor(
    readonly path: string,
    private readonly initial: Buffer,
  ) {
    this.pool = seededImage(16 * MiB, SEED ^ 0x5eed);
    for (let b = 0; b < BLOCKS; b++) {
      this.history.push([0]);
      this.current.push(0);
    }
  }

  private length(block: number): number {
    return Math.min(BLOCK, SIZE - block * BLOCK);
  }

  content(block: number, version: number): Buffer {
    const len = this.length(block);
    if (version === 0) return this.initial.subarray(block * BLOCK, block * BLOCK + len);
    const at = (version * 40_961 * 8) % (this.pool.length - len);
    const data = Buffer.from(this.pool.subarray(at, at + len));
    data.writeUInt32LE(version, 0); // distinct from every other version
    data.writeUInt32LE(block, 4);
    return data;
  }

  /** Changes `count` random blocks; about a third of them go back to an earlier content. */
  async change(count: number): Promise<{ fresh: number; restored: number }> {
    const f = await open(this.path, 'r+');
    let fresh = 0;
    let restored = 0;
    try {
      for (let i = 0; i < count; i++) {
        const block = between(0, BLOCKS - 1);
        const earlier = this.history[block]!.filter((v) => v !== this.current[block]);
        let version: number;
        if (earlier.length > 0 && random() < 0.35) {
          version = earlier[between(0, earlier.length - 1)]!;
          restored++;
        } else {
          version = this.nextVersion++;
          this.history[block]!.push(version);
          fresh++;
        }
        this.current[block] = version;
        const data = this.content(block, version);
        await f.write(data, 0, data.length, block * BLOCK);
      }
    } finally {
      await f.close();
    }
    return { fresh, restored };
  }
}

let sshd: SshdFixture | string = 'not started';
before(async () => {
  sshd = await sharedSshd();
});
after(async () => {
  if (typeof sshd !== 'string') await sshd.stop();
});

interface Paths {
  src: string;
  dst: string;
  bitmap: string;
}

/**
 * Where the destination or source on the "remote" side is opened: by basyn itself, by
 * a local agent child, or by an agent over SSH.
 */
type Place = 'in-process' | 'local agent' | 'ssh';

function basynArgs(p: Paths, action: 'PUSH' | 'PULL', place: Place, extra: string[] = []): string[] {
  const [local, remote] = action === 'PUSH' ? [p.src, p.dst] : [p.dst, p.src];
  const args = ['-l', local, '-r', remote, '-a', action, '-m', 'SYNC', '-b', p.bitmap, '--buffer', String(BLOCK / KiB), '--zlevel', '1'];
  if (place === 'local agent') {
    // A run without -h starts an agent only when asked to: this makes the child to kill.
    args.push(...LOCAL_AGENT.args);
  } else if (place === 'ssh') {
    if (typeof sshd === 'string') throw new Error(sshd);
    args.push('-h', sshd.host, '-p', String(sshd.port));
  }
  return [...args, ...extra];
}

/** Every known entry equals the digest of what the destination holds: the invariant. */
async function assertInvariant(p: Paths, when: string): Promise<number> {
  const b = await parseBitmap(p.bitmap);
  assert.equal(b.magic, ORIGINAL_MAGIC, `${when}: magic`);
  assert.equal(b.deviceSize, SIZE, `${when}: device size`);
  assert.equal(b.blockSize, BLOCK, `${when}: block size`);
  assert.equal(b.fileSize, 25 + BLOCKS * 20, `${when}: file length`);
  const entries = entriesOf(b.body, 20);
  const held = blockDigestsOf(await readFile(p.dst), BLOCK);
  let known = 0;
  for (let i = 0; i < BLOCKS; i++) {
    if (entries[i]!.equals(Buffer.alloc(20))) continue;
    known++;
    assert.ok(
      entries[i]!.equals(held[i]!),
      `${when}: bitmap entry ${i} is ${entries[i]!.toString('hex')} but the destination holds ${held[i]!.toString('hex')} (seed ${SEED})`,
    );
  }
  return known;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** basyn: SIGKILL basyn; child: SIGKILL its agent side; term: SIGTERM basyn. */
type Target = 'basyn' | 'child' | 'term';

interface Trial {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** True when the kill landed before the run ended. */
  killed: boolean;
  /** Milliseconds from the start to the end of the run. */
  ms: number;
}

/**
 * Starts a run and kills it (or its agent side) `delay` ms after the start. The
 * target is basyn itself, or its child (the local agent, or the ssh client).
 */
async function killedRun(args: string[], env: NodeJS.ProcessEnv, delay: number, target: Target): Promise<Trial> {
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [BASYN_BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  let ended = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    }),
  );
  await Promise.race([sleep(delay), closed]);
  let killed = false;
  if (!ended) {
    if (target === 'basyn' || target === 'term') {
      killed = child.kill(target === 'term' ? 'SIGTERM' : 'SIGKILL');
    } else {
      // The agent side: the child of basyn (node -e ... locally, ssh over SSH); if it is
      // not started yet, kill it as soon as it is.
      for (;;) {
        if (ended) break;
        const kids = childPids(child.pid!);
        if (kids.length > 0) {
          for (const pid of kids) {
            try {
              process.kill(pid, 'SIGKILL');
              killed = true;
            } catch {
              // already gone
            }
          }
          break;
        }
        await sleep(1);
      }
    }
  }
  // A run whose agent side was killed must end promptly, not hang.
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 30_000)));
  const outcome = await Promise.race([closed, hung]);
  clearTimeout(timer);
  if (outcome === 'hung') {
    child.kill('SIGKILL');
    await closed;
    assert.fail(`basyn ${args.join(' ')} did not end within 30 s of the kill (${target}, after ${delay} ms): ${stderr}`);
  }
  const { code, signal } = outcome;
  return { code, signal, stderr, killed, ms: performance.now() - started };
}

describe('bitmap SYNC kill safety', () => {
  it(`survives SIGKILL of basyn and of its agent side at random moments (seed printed)`, { timeout: 480_000 }, async () => {
    console.log(`bitmap kill test seed: ${SEED} (BASYN_KILL_SEED=${SEED} to reuse it)`);
    const dir = await makeTempDir('basyn-bitmap-kill-');
    try {
      const p: Paths = { src: join(dir.path, 'source.img'), dst: join(dir.path, 'destination.img'), bitmap: join(dir.path, 'image.bitmap') };
      const initial = seededImage(SIZE, SEED);
      await writeFile(p.src, initial);
      await writeFile(p.dst, seededImage(SIZE, SEED + 1));
      const source = new Source(p.src, initial);
      const hasSsh = typeof sshd !== 'string';
      const sshEnv = typeof sshd !== 'string' ? sshd.env : process.env;

      // Calibrate: how long a run that sends everything takes here.
      const t0 = performance.now();
      const firstRun = await runBasyn(basynArgs(p, 'PUSH', 'in-process'));
      const fullMs = performance.now() - t0;
      assert.equal(firstRun.code, 0, firstRun.stderr);
      await assertInvariant(p, 'after the first run');
      const t1 = performance.now();
      const quietRun = await runBasyn(basynArgs(p, 'PUSH', 'in-process'));
      const quietMs = performance.now() - t1;
      assert.equal(quietRun.code, 0, quietRun.stderr);
      const t2 = performance.now();
      const agentRun = await runBasyn(basynArgs(p, 'PUSH', 'local agent'));
      const agentMs = performance.now() - t2 - quietMs;
      assert.equal(agentRun.code, 0, agentRun.stderr);
      let sshMs = 0;
      if (hasSsh) {
        const t3 = performance.now();
        const sshRun = await runBasyn(basynArgs(p, 'PUSH', 'ssh'), { env: sshEnv });
        sshMs = performance.now() - t3 - quietMs;
        assert.equal(sshRun.code, 0, sshRun.stderr);
      }
      console.log(
        `here a run takes ${fullMs.toFixed(0)} ms to send all ${SIZE} bytes, ${quietMs.toFixed(0)} ms to send nothing; ` +
          `a local agent adds ${agentMs.toFixed(0)} ms, SSH ${sshMs.toFixed(0)} ms`,
      );
      const placeMs: Record<Place, number> = { 'in-process': 0, 'local agent': Math.max(0, agentMs), ssh: sshMs };

      const kinds: { target: Target; place: Place; trials: number }[] = [
        { target: 'basyn', place: 'in-process', trials: BASYN_TRIALS },
        { target: 'child', place: 'local agent', trials: AGENT_TRIALS },
        { target: 'child', place: 'ssh', trials: hasSsh ? SSH_CLIENT_TRIALS : 0 },
        { target: 'term', place: 'in-process', trials: TERM_TRIALS },
      ];
      const summary: string[] = [];
      // Run durations drift with the machine's load: the expected duration is scaled by
      // what the runs that ended before their kill actually took.
      let scale = 1;
      let attempts = 0;
      for (const kind of kinds) {
        let killed = 0;
        for (let trial = 0; trial < kind.trials; trial++) {
          // A trial ends with a kill that landed during a run; a run that ended first
          // (a complete run, checked all the same) is followed by another attempt.
          for (let attempt = 0; ; attempt++) {
            // Delays shrink with each attempt: a kill that never lands means the target is missing.
            assert.ok(attempt < 50, `${kind.target} (${kind.place}): no kill landed during a run in 50 attempts (seed ${SEED})`);
            attempts++;
            // Small, medium and large changes: a large one spans several commit batches.
            const size = random();
            const count = size < 0.4 ? between(1, 5) : size < 0.7 ? between(10, 60) : between(150, 450);
            const changed = await source.change(count);
            const action = random() < 0.5 ? 'PUSH' : 'PULL';
            // Kill somewhere in the expected duration of this run.
            const changedShare = Math.min(1, count / BLOCKS);
            const expected = quietMs + (fullMs - quietMs) * changedShare + placeMs[kind.place];
            const delay = between(0, Math.round(expected * scale * 0.9 ** attempt));
            const args = basynArgs(p, action, kind.place);
            const r = await killedRun(args, kind.place === 'ssh' ? sshEnv : process.env, delay, kind.target);
            const who = { basyn: 'basyn', term: 'SIGTERM', child: kind.place === 'ssh' ? 'ssh client' : 'local agent' }[kind.target];
            const label = `${who} trial ${trial}.${attempt} (${action}, ${count} blocks changed of which ${changed.restored} set back, kill after ${delay} ms)`;
            if (kind.target === 'basyn') {
              assert.ok(r.signal === 'SIGKILL' || r.code === 0, `${label}: ended with ${r.code}/${r.signal}: ${r.stderr}`);
            } else if (kind.target === 'term') {
              // SIGTERM before basyn installed its handler (during node's start-up) just ends it.
              assert.ok(r.code === 2 || r.code === 0 || r.signal === 'SIGTERM', `${label}: exit code ${r.code}/${r.signal}: ${r.stderr}`);
              if (r.code === 2) assert.match(r.stderr, /interrupted/, `${label}: says it was interrupted`);
              assert.equal(existsSync(`${p.bitmap}.lock`), false, `${label}: the lock is released`);
            } else {
              assert.ok(r.code === 2 || r.code === 0, `${label}: exit code ${r.code}/${r.signal}: ${r.stderr}`);
              if (r.code === 2) {
                assert.match(r.stderr, /^basyn: .*(agent|connection|closed|ssh)/m, `${label}: the error names the lost agent`);
              }
            }
            // An orphaned agent may still be finishing writes it had received: wait for it.
            await waitUntilClosedByAll(p.dst);
            await waitUntilClosedByAll(p.src);
            await assertInvariant(p, label);
            if (r.killed) break;
            scale = Math.max(0.2, 0.5 * scale + (0.5 * r.ms) / expected);
          }
          killed++;
        }
        summary.push(`${kind.target} (${kind.place}): ${killed} kills`);
      }
      summary.push(`${attempts} runs in all`);
      console.log(summary.join('; '));

      // One last change, including blocks set back, then one clean run...
      await source.change(40);
      const clean = await runBasyn(basynArgs(p, 'PUSH', 'in-process'));
      assert.equal(clean.code, 0, clean.stderr);
      assert.equal(await cmp(p.src, p.dst), true, `after the clean run the devices differ (seed ${SEED})`);
      await assertInvariant(p, 'after the clean run');
      // ...and a further run sends no data block, in both directions.
      for (const action of ['PUSH', 'PULL'] as const) {
        const again = await runBasyn(basynArgs(p, action, 'in-process', ['--stat', '--debug', '--no-bitmap-check']));
        assert.equal(again.code, 0, again.stderr);
        const io = parseDebugIo(again.stderr);
        assert.deepEqual(action === 'PUSH' ? io.remote : io.local, { read: 0, wrote: 0 }, `${action}: destination I/O after the clean run`);
        assert.ok(parseStat(again.stdout)!.both < BLOCK / 4 + BLOCKS * 20 + 4096, `${action}: traffic ${parseStat(again.stdout)!.both} B`);
      }
      assert.equal(await cmp(p.src, p.dst), true);
      // Every entry is known and right.
      assert.equal(await assertInvariant(p, 'at the end'), BLOCKS);
    } finally {
      await dir.remove();
    }
  });
});
