/**
 * The scenarios of issue 5: what each one runs, on which images, what it is
 * compared with and its target. Ids are "<group>-<variant>" (e.g. S4-z9); --only
 * takes either.
 */
import * as zlib from 'node:zlib';
import { BenchUsageError } from './bench-options.js';
import type { CeilingKey } from './ceilings.js';
import { applyBlockChanges, changedBlockCount, chooseBlockChanges, undoBlockChanges } from './images.js';
import {
  changedBlocksTarget,
  informative,
  latencyBasis,
  latencyTarget,
  localPlus,
  loginPlusDigestAtMost,
  overFloorAtMost,
  ratioToCeilingAtLeast,
  readBothAtMost,
  scalingTarget,
  throughputAtLeast,
  autoCodecTarget,
  bwlimitTarget,
  type Judge,
} from './targets.js';
import { failureOf, timeBasyn } from './timed-run.js';
import type { ImagePair, Workspace } from './workspace.js';
import { DELTA_SCENARIOS } from './delta-scenarios.js';
import { codecThreads } from '../src/protocol/codec-threads.js';

/** How to run a scenario, once its images and helpers exist. */
export interface RunPlan {
  /** basyn's arguments (the bench adds --stat). */
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** The node that runs basyn, when not the bench's own. */
  node?: string;
  /** Where the agent process descends from, besides basyn itself. */
  agentRoots: readonly number[];
  /** Untimed, before every timed run. */
  beforeEachRun?: () => Promise<void>;
  /** Untimed, after the last run (also after a failure). */
  afterRuns?: () => Promise<void>;
}

export interface Scenario {
  id: string;
  group: string;
  title: string;
  /** Bytes the scenario moves or compares (for MB/s), given --size. */
  bytes(size: number): number;
  ceiling?: CeilingKey;
  /** Further ceilings its judge reads, measured before it runs. */
  alsoCeilings?: readonly CeilingKey[];
  plan(workspace: Workspace, size: number): Promise<RunPlan>;
  judge: Judge;
}

const BLOCK = 2 * 1024 * 1024;
const FAST_HASH = 'XXH128';
const HASHES = ['SHA1', FAST_HASH] as const;
type Hash = (typeof HASHES)[number];
/** "default": no --hash, so --hash=auto (XXH128 without a bitmap, SHA1 with one). */
type HashOrDefault = Hash | 'default';
const hashArgs = (hash: HashOrDefault): string[] => (hash === 'default' ? [] : [`--hash=${hash}`]);

/** S3's changes: about 1% of the 2 MiB blocks, 4 KiB in each. */
const CHANGED_FRACTION = 0.01;
const CHANGE_BYTES = 4096;
const CHANGE_LAYOUT_SEED = 3;
const CHANGE_CONTENT_SEED = 4;
/** The original tool's bytes on the wire for S3 at 1 GiB (5 blocks changed), per variant. */
const S3_WIRE_AT_1GIB = { plain: 10.58e6, chunk64: 0.41e6 };
const GiB = 1024 ** 3;
/** S6's images are this fraction of --size (256 MiB at 1 GiB); S7's this multiple (4 GiB). */
const S6_FRACTION = 4;
const S7_MULTIPLE = 4;
const S6_DELAYS = [0, 25];

function pushArgs(pair: ImagePair, mode: 'SYNC' | 'COPY', ...extra: string[]): string[] {
  return ['-l', pair.source, '-r', pair.destination, '-a', 'PUSH', '-m', mode, ...extra];
}

function localPlan(args: string[]): RunPlan {
  return { args, agentRoots: [] };
}

/** `args` over SSH to the bench's sshd, or to `port` (a proxy in front of it). */
async function sshPlan(workspace: Workspace, args: string[], port?: number): Promise<RunPlan> {
  const sshd = await workspace.sshd();
  return { args: [...args, '-h', sshd.host, '-p', String(port ?? sshd.port)], env: sshd.env, agentRoots: sshd.agentRoots };
}

const same = (size: number): number => size;

function identicalSync(group: 'S1' | 'S2', hash: HashOrDefault): Scenario {
  const overSsh = group === 'S2';
  return {
    id: `${group}-${hash}`,
    group,
    title: `SYNC identical, ${overSsh ? 'SSH' : 'local'}, ${hash === 'default' ? 'default digest (auto: XXH128)' : hash}`,
    bytes: same,
    // On one machine the blocks are compared byte for byte: reading both images bounds it.
    ceiling: !overSsh ? 'read' : `digest:${hash === 'default' ? FAST_HASH : hash}`,
    alsoCeilings: overSsh && hash === 'default' ? ['ssh-floor:0'] : [],
    async plan(workspace, size) {
      const args = pushArgs(await workspace.identicalRandomPair(size), 'SYNC', ...hashArgs(hash));
      return overSsh ? sshPlan(workspace, args) : localPlan(args);
    },
    judge: !overSsh ? readBothAtMost(1.1) : hash === 'SHA1' ? ratioToCeilingAtLeast(0.85) : hash === 'default' ? loginPlusDigestAtMost(1.15, 'ssh-floor:0', `digest:${FAST_HASH}`) : informative,
  };
}

function changedBlocksSync(chunkKiB: number | undefined): Scenario {
  return {
    id: chunkKiB === undefined ? 'S3-plain' : `S3-chunk${chunkKiB}`,
    group: 'S3',
    title: `SYNC ~1% of blocks changed, SSH${chunkKiB === undefined ? '' : `, --chunk=${chunkKiB}`}`,
    bytes: same,
    async plan(workspace, size) {
      const pair = await workspace.identicalRandomPair(size);
      const changes = chooseBlockChanges(size, BLOCK, CHANGED_FRACTION, CHANGE_BYTES, CHANGE_LAYOUT_SEED);
      const extra = chunkKiB === undefined ? ['--hash=SHA1'] : ['--hash=SHA1', `--chunk=${chunkKiB}`];
      return {
        ...(await sshPlan(workspace, pushArgs(pair, 'SYNC', ...extra))),
        // Each run syncs the same changed destination; afterwards it equals the source again.
        beforeEachRun: () => applyBlockChanges(pair.destination, changes, CHANGE_CONTENT_SEED),
        afterRuns: () => undoBlockChanges(pair.source, pair.destination, changes),
      };
    },
    judge: changedBlocksTarget('S2-SHA1', (size) => {
      const perChangedBlock = (chunkKiB === undefined ? S3_WIRE_AT_1GIB.plain : S3_WIRE_AT_1GIB.chunk64) / changedBlockCount(GiB, BLOCK, CHANGED_FRACTION);
      return perChangedBlock * changedBlockCount(size, BLOCK, CHANGED_FRACTION);
    }),
  };
}

function mixedCopy(zlevel: number): Scenario {
  return {
    id: `S4-z${zlevel}`,
    group: 'S4',
    title: `COPY mixed data, SSH, --zlevel=${zlevel}`,
    bytes: same,
    ceiling: zlevel === 0 ? 'ssh-pipe' : `zlib:${zlevel}`,
    async plan(workspace, size) {
      return sshPlan(workspace, pushArgs(await workspace.mixedCopyPair(size), 'COPY', `--zlevel=${zlevel}`));
    },
    judge: ratioToCeilingAtLeast(zlevel === 0 ? 0.8 : 1.8),
  };
}

/** Issue 10: zstd at a fixed level, against one core of this node's zstd at that level. */
function mixedCopyZstd(level: number): Scenario {
  return {
    id: `S4-zstd${level}`,
    group: 'S4',
    title: `COPY mixed data, SSH, --compress=zstd --zlevel=${level}`,
    bytes: same,
    ceiling: `zstd:${level}`,
    async plan(workspace, size) {
      return sshPlan(workspace, pushArgs(await workspace.mixedCopyPair(size), 'COPY', '--compress=zstd', `--zlevel=${level}`));
    },
    judge: informative,
  };
}

const BUILTIN_ZSTD = typeof (zlib as unknown as Record<string, unknown>).zstdCompressSync === 'function';
const BWLIMIT = '20M';
const BWLIMIT_BYTES = 20 * 1024 * 1024;

/**
 * Issue 10: the default (auto), on this node and with the command and the agent on
 * node 24 (built-in zstd; from .cache/node-versions, installed by
 * scripts/node-versions.mjs), and auto under --bwlimit=20M.
 */
function mixedCopyAuto(variant: 'auto' | 'node24' | 'bwlimit'): Scenario {
  return {
    id: variant === 'auto' ? 'S4-auto' : variant === 'node24' ? 'S4-auto-node24' : 'S4-bwlimit',
    group: 'S4',
    title: `COPY mixed data, SSH, default codec (auto)${variant === 'node24' ? ', command and agent on node 24' : variant === 'bwlimit' ? `, --bwlimit=${BWLIMIT}` : ''}`,
    bytes: same,
    ceiling: 'ssh-pipe',
    // zstd:1 is the bench node's (built-in where it has one); the WASM one beside it only then.
    alsoCeilings: variant === 'bwlimit' ? [] : BUILTIN_ZSTD ? ['zstd:1', 'zstd-wasm:1'] : ['zstd:1'],
    async plan(workspace, size) {
      const extra = variant === 'bwlimit' ? [`--bwlimit=${BWLIMIT}`] : [];
      let node: string | undefined;
      if (variant === 'node24') {
        const script = (await import(new URL('../../scripts/node-versions.mjs', import.meta.url).href)) as { installNode(major: number): string };
        node = script.installNode(24);
        extra.push('--remote-node', node);
      }
      const plan = await sshPlan(workspace, pushArgs(await workspace.mixedCopyPair(size), 'COPY', ...extra));
      return node === undefined ? plan : { ...plan, node };
    },
    // Against one core of zstd-1 of the bench's node: run the bench on node 24 for the
    // built-in's ceiling beside S4-auto-node24 (bench/README.md).
    judge: variant === 'bwlimit' ? bwlimitTarget(BWLIMIT_BYTES, 1.05, 2.5) : autoCodecTarget(0.8, 'zstd:1', codecThreads(), 'S4-z1'),
  };
}

/** Issue 6's variant of S4: half of the image is zeros, which travel as markers. */
function halfZeroCopy(zlevel: number): Scenario {
  return {
    id: `S4-half-zero-z${zlevel}`,
    group: 'S4',
    title: `COPY mixed data, half zero blocks, SSH, --zlevel=${zlevel}`,
    bytes: same,
    ceiling: zlevel === 0 ? 'ssh-pipe' : `zlib:${zlevel}`,
    async plan(workspace, size) {
      return sshPlan(workspace, pushArgs(await workspace.halfZeroCopyPair(size), 'COPY', `--zlevel=${zlevel}`));
    },
    judge: informative,
  };
}

function bitmapSync(where: 'local' | 'ssh', hash: Hash): Scenario {
  const id = `S5-${where}-${hash}`;
  return {
    id,
    group: 'S5',
    title: `bitmap SYNC unchanged, ${where === 'ssh' ? 'SSH' : 'local'}, ${hash}`,
    bytes: same,
    ceiling: `digest:${hash}`,
    async plan(workspace, size) {
      const bitmap = workspace.path(`${id}.bitmap`);
      const args = pushArgs(await workspace.identicalRandomPair(size), 'SYNC', `--hash=${hash}`, '-b', bitmap);
      const plan = where === 'ssh' ? await sshPlan(workspace, args) : localPlan(args);
      // The first run creates and fills the bitmap; only the runs after it are timed.
      const first = await timeBasyn(plan.args, { env: plan.env, agentRoots: plan.agentRoots, timeoutMs: 600_000 });
      const failure = failureOf(first);
      if (failure !== undefined) throw new Error(`the untimed run that creates the bitmap failed: ${failure}`);
      return plan;
    },
    judge: where === 'ssh' ? localPlus(`S5-local-${hash}`, 0.1) : hash === 'SHA1' ? ratioToCeilingAtLeast(1.7) : throughputAtLeast(4500),
  };
}

function delayedSync(delayMs: number, hash: 'SHA1' | 'default' = 'SHA1'): Scenario {
  // The SHA1 rows keep their ids of before; the default digest's are S6-default-*.
  const variant = hash === 'SHA1' ? '' : 'default-';
  const basisId = `S6-${variant}${S6_DELAYS[0]}ms`;
  return {
    id: `S6-${variant}${delayMs}ms`,
    group: 'S6',
    title: `SYNC identical 1/${S6_FRACTION} size, SSH via proxy ${delayMs} ms each way, ${hash === 'default' ? 'default digest' : 'SHA1'}`,
    bytes: (size) => size / S6_FRACTION,
    ceiling: `ssh-floor:${delayMs}`,
    async plan(workspace, size) {
      const pair = await workspace.identicalRandomPair(size / S6_FRACTION, 5);
      const proxy = await workspace.proxy(delayMs);
      return sshPlan(workspace, pushArgs(pair, 'SYNC', ...hashArgs(hash)), proxy.port);
    },
    judge: delayMs === S6_DELAYS[0] ? latencyBasis : latencyTarget(basisId, `ssh-floor:${S6_DELAYS[0]}`),
  };
}

/** S8: the start of a run: 1 MiB identical over SSH (via the 0 ms proxy), over `ssh true`. */
function startSync(hash: 'SHA1' | 'default'): Scenario {
  const MiB = 1024 * 1024;
  return {
    id: `S8-start-${hash}`,
    group: 'S8',
    title: `SYNC identical 1 MiB, SSH via proxy 0 ms, ${hash === 'default' ? 'default digest' : 'SHA1'}`,
    bytes: () => MiB,
    ceiling: 'ssh-floor:0',
    async plan(workspace) {
      const pair = await workspace.identicalRandomPair(MiB, 8);
      const proxy = await workspace.proxy(0);
      return sshPlan(workspace, pushArgs(pair, 'SYNC', ...hashArgs(hash)), proxy.port);
    },
    judge: overFloorAtMost(0.08),
  };
}

function bigSync(hash: Hash): Scenario {
  return {
    id: `S7-${hash}`,
    group: 'S7',
    title: `SYNC identical ${S7_MULTIPLE}x size (sparse), SSH, ${hash}`,
    bytes: (size) => size * S7_MULTIPLE,
    async plan(workspace, size) {
      return sshPlan(workspace, pushArgs(await workspace.sparsePair(size * S7_MULTIPLE), 'SYNC', `--hash=${hash}`));
    },
    judge: scalingTarget(`S2-${hash}`),
  };
}

/** Every scenario, in the order they run (S2 before S3 and S7, which compare with it). */
export const SCENARIOS: readonly Scenario[] = [
  ...HASHES.map((h) => identicalSync('S1', h)),
  ...HASHES.map((h) => identicalSync('S2', h)),
  identicalSync('S2', 'default'),
  changedBlocksSync(undefined),
  changedBlocksSync(64),
  ...[9, 1, 0].map(mixedCopy),
  mixedCopyAuto('auto'),
  mixedCopyAuto('node24'),
  mixedCopyAuto('bwlimit'),
  ...[1, 3, 9].map(mixedCopyZstd),
  ...[1, 0].map(halfZeroCopy),
  ...(['local', 'ssh'] as const).flatMap((where) => HASHES.map((h) => bitmapSync(where, h))),
  ...S6_DELAYS.map((d) => delayedSync(d)),
  ...S6_DELAYS.map((d) => delayedSync(d, 'default')),
  startSync('default'),
  startSync('SHA1'),
  ...HASHES.map(bigSync),
  ...DELTA_SCENARIOS,
];

/** The scenarios named by --only (groups like S4 or ids like S4-z9, any case). */
export function selectScenarios(only: readonly string[] | undefined): Scenario[] {
  if (only === undefined) return [...SCENARIOS];
  const wanted = only.map((w) => w.toLowerCase());
  const known = (w: string): boolean => SCENARIOS.some((s) => s.id.toLowerCase() === w.toLowerCase() || s.group.toLowerCase() === w.toLowerCase());
  const unknown = only.filter((w) => !known(w));
  if (unknown.length > 0) {
    throw new BenchUsageError(`--only: unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.id).join(', ')})`);
  }
  return SCENARIOS.filter((s) => wanted.includes(s.id.toLowerCase()) || wanted.includes(s.group.toLowerCase()));
}
