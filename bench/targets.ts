/**
 * The targets of issue 5, each as a verdict on a scenario's figures: what it is
 * compared with, the ratio, the target in words, and pass or fail. Targets are
 * stated for 1 GiB images on a quiet 2-core machine; at other sizes they are only
 * indicative (S3's byte limits are scaled with the size).
 */
import { formatCeiling, type Ceiling } from './ceilings.js';

/** A scenario's measured figures, as the verdicts need them. */
export interface Measured {
  bytes: number;
  medianSeconds: number;
  mbps: number;
  wireBytes?: number;
  rssLocalMiB?: number;
  rssAgentMiB?: number;
}

export interface Verdict {
  /** What the scenario is compared with, with its value. */
  reference: string;
  /** The compared quantity (see `ratioOf`), when there is one. */
  ratio?: number;
  /** How `ratio` is formed, e.g. "MB/s / ceiling". */
  ratioOf?: string;
  target: string;
  /** undefined: nothing to judge (no target, or a figure it needs is missing). */
  pass?: boolean;
  detail?: string;
}

export interface JudgeInput {
  measured: Measured;
  ceiling?: Ceiling;
  /** Figures of the scenarios that ran before, by id. */
  earlier: ReadonlyMap<string, Measured>;
  /** Every ceiling measured so far, by key. */
  ceilings: ReadonlyMap<string, Ceiling>;
  /** The main image size (--size). */
  size: number;
}

export type Judge = (input: JudgeInput) => Verdict;

function missing(what: string, target: string): Verdict {
  return { reference: `${what}: not measured`, target, pass: undefined };
}

/** MB/s divided by the ceiling, at least `min`. */
export function ratioToCeilingAtLeast(min: number): Judge {
  return ({ measured, ceiling }) => {
    const target = `>= ${min}x ceiling`;
    if (ceiling === undefined) return missing('ceiling', target);
    const ratio = measured.mbps / ceiling.value;
    return { reference: `${ceiling.label} ${formatCeiling(ceiling)}`, ratio, ratioOf: 'MB/s / ceiling', target, pass: ratio >= min };
  };
}

/** An absolute throughput target; the ratio to the ceiling is shown for information. */
export function throughputAtLeast(minMBps: number, strictly = false): Judge {
  return ({ measured, ceiling }) => {
    const pass = strictly ? measured.mbps > minMBps : measured.mbps >= minMBps;
    return {
      reference: ceiling === undefined ? '-' : `${ceiling.label} ${formatCeiling(ceiling)}`,
      ...(ceiling !== undefined ? { ratio: measured.mbps / ceiling.value, ratioOf: 'MB/s / ceiling' } : {}),
      target: `${strictly ? '>' : '>='} ${minMBps} MB/s`,
      pass,
    };
  };
}

/** No target: the ratio to the ceiling, for information. */
export const informative: Judge = ({ measured, ceiling }) => ({
  reference: ceiling === undefined ? '-' : `${ceiling.label} ${formatCeiling(ceiling)}`,
  ...(ceiling !== undefined ? { ratio: measured.mbps / ceiling.value, ratioOf: 'MB/s / ceiling' } : {}),
  target: '-',
});

/**
 * S3: time at most 1.15x S2's, wire bytes at most the original tool's. Its figures
 * are for 1 GiB; `wireLimit` scales them to the blocks changed at this size.
 */
export function changedBlocksTarget(baselineId: string, wireLimit: (size: number) => number): Judge {
  return ({ measured, earlier, size }) => {
    const limit = wireLimit(size);
    const target = `t <= 1.15x ${baselineId}, wire <= ${(limit / 1e6).toFixed(2)} MB`;
    const baseline = earlier.get(baselineId);
    if (baseline === undefined) return missing(baselineId, target);
    const ratio = measured.medianSeconds / baseline.medianSeconds;
    const wireOk = measured.wireBytes !== undefined && measured.wireBytes <= limit;
    return {
      reference: `${baselineId} ${baseline.medianSeconds.toFixed(3)} s`,
      ratio,
      ratioOf: `t / t(${baselineId})`,
      target,
      pass: ratio <= 1.15 && wireOk,
      ...(wireOk ? {} : { detail: 'wire bytes over the limit' }),
    };
  };
}

/** S6 at 0 ms: the basis of the latency target; t minus the connection floor. */
export const latencyBasis: Judge = ({ measured, ceiling }) => {
  if (ceiling === undefined) return missing('connection floor', '-');
  const net = measured.medianSeconds - ceiling.value;
  return { reference: `floor ${formatCeiling(ceiling)}`, target: '- (basis)', detail: `t - floor = ${net.toFixed(3)} s` };
};

/** S6 with delay: (t - floor) <= 1.2 x (t0 - floor0) + 0.2 s. */
export function latencyTarget(basisId: string, basisFloorKey: string): Judge {
  return ({ measured, ceiling, earlier, ceilings }) => {
    const target = `t-floor <= 1.2x(${basisId}) + 0.2 s`;
    const basis = earlier.get(basisId);
    const floor0 = ceilings.get(basisFloorKey);
    if (ceiling === undefined || basis === undefined || floor0 === undefined) return missing(`${basisId} or a floor`, target);
    const net = measured.medianSeconds - ceiling.value;
    const net0 = basis.medianSeconds - floor0.value;
    const limit = 1.2 * net0 + 0.2;
    return {
      reference: `floor ${formatCeiling(ceiling)}; ${basisId} t-floor ${net0.toFixed(3)} s`,
      ratio: net / limit,
      ratioOf: '(t - floor) / limit',
      target,
      pass: net <= limit,
      detail: `t - floor = ${net.toFixed(3)} s, limit ${limit.toFixed(3)} s`,
    };
  };
}

/** S7: time at most 4.4x S2's; each process at most 150 MiB and at most 1.1x its S2 peak. */
export function scalingTarget(baselineId: string): Judge {
  return ({ measured, earlier }) => {
    const target = `t <= 4.4x ${baselineId}; RSS <= 150 MiB, <= 1.1x ${baselineId}`;
    const baseline = earlier.get(baselineId);
    if (baseline === undefined) return missing(baselineId, target);
    const ratio = measured.medianSeconds / baseline.medianSeconds;
    const memoryOk = (mine: number | undefined, theirs: number | undefined): boolean =>
      mine !== undefined && theirs !== undefined && mine <= 150 && mine <= 1.1 * theirs;
    const localOk = memoryOk(measured.rssLocalMiB, baseline.rssLocalMiB);
    const agentOk = memoryOk(measured.rssAgentMiB, baseline.rssAgentMiB);
    return {
      reference: `${baselineId} ${baseline.medianSeconds.toFixed(3)} s, RSS ${mib(baseline.rssLocalMiB)}/${mib(baseline.rssAgentMiB)} MiB`,
      ratio,
      ratioOf: `t / t(${baselineId})`,
      target,
      pass: ratio <= 4.4 && localOk && agentOk,
      ...(localOk && agentOk ? {} : { detail: `memory: local ${localOk ? 'ok' : 'over'}, agent ${agentOk ? 'ok' : 'over'}` }),
    };
  };
}

function mib(value: number | undefined): string {
  return value === undefined ? '?' : value.toFixed(0);
}

/** S1: t at most `factor` x the time to read both images once at the sequential-read ceiling. */
export function readBothAtMost(factor: number): Judge {
  return ({ measured, ceiling }) => {
    const target = `t <= ${factor}x reading both images`;
    if (ceiling === undefined) return missing('read ceiling', target);
    const floor = (2 * measured.bytes) / (ceiling.value * 1e6);
    const ratio = measured.medianSeconds / floor;
    return { reference: `read both at ${formatCeiling(ceiling)}: ${floor.toFixed(3)} s`, ratio, ratioOf: 't / read-both', target, pass: ratio <= factor };
  };
}

/** S2 default: t at most `factor` x (`ssh true` + one core's digest of the image). */
export function loginPlusDigestAtMost(factor: number, floorKey: string, digestKey: string): Judge {
  return ({ measured, ceilings }) => {
    const target = `t <= ${factor}x (ssh true + 1-core ${digestKey.replace('digest:', '')})`;
    const floor = ceilings.get(floorKey);
    const digest = ceilings.get(digestKey);
    if (floor === undefined || digest === undefined) return missing(`${floorKey} or ${digestKey}`, target);
    const bound = floor.value + measured.bytes / (digest.value * 1e6);
    const ratio = measured.medianSeconds / bound;
    return { reference: `ssh true ${formatCeiling(floor)} + digest ${(bound - floor.value).toFixed(3)} s = ${bound.toFixed(3)} s`, ratio, ratioOf: 't / bound', target, pass: ratio <= factor };
  };
}

/** S5 over SSH: t at most the same scenario's local time + `extraSeconds`. */
export function localPlus(localId: string, extraSeconds: number): Judge {
  return ({ measured, earlier }) => {
    const target = `t <= t(${localId}) + ${extraSeconds} s`;
    const local = earlier.get(localId);
    if (local === undefined) return missing(localId, target);
    const over = measured.medianSeconds - local.medianSeconds;
    return { reference: `${localId} ${local.medianSeconds.toFixed(3)} s`, ratio: over, ratioOf: 't - t(local), s', target, pass: over <= extraSeconds };
  };
}

/** S8: the time over the connection floor (`ssh true`), at most `limitSeconds`. */
export function overFloorAtMost(limitSeconds: number): Judge {
  return ({ measured, ceiling }) => {
    const target = `t - floor <= ${limitSeconds} s`;
    if (ceiling === undefined) return missing('connection floor', target);
    const over = measured.medianSeconds - ceiling.value;
    return { reference: `floor ${formatCeiling(ceiling)}`, ratio: over, ratioOf: 't - floor, s', target, pass: over <= limitSeconds, detail: `t - floor = ${over.toFixed(3)} s` };
  };
}

/**
 * Issue 10's S4-auto: MB/s at least `factor` x min(ssh pipe, cores x one core of
 * zstd-1), and wire bytes at most those of `wireBasisId` (S4-z1) in the same run.
 */
export function autoCodecTarget(factor: number, zstdKey: string, cores: number, wireBasisId: string): Judge {
  return ({ measured, ceilings, earlier }) => {
    const target = `>= ${factor}x min(ssh pipe, ${cores} x ${zstdKey}); wire <= ${wireBasisId}`;
    const pipe = ceilings.get('ssh-pipe');
    const zstd = ceilings.get(zstdKey);
    if (pipe === undefined || zstd === undefined) return missing(pipe === undefined ? 'ssh pipe' : zstdKey, target);
    const bound = Math.min(pipe.value, cores * zstd.value);
    const ratio = measured.mbps / bound;
    const basis = earlier.get(wireBasisId)?.wireBytes;
    const wireOk = basis === undefined || measured.wireBytes === undefined ? undefined : measured.wireBytes <= basis;
    return {
      reference: `min(ssh pipe ${formatCeiling(pipe)}, ${cores} x ${formatCeiling(zstd)}) = ${bound.toFixed(0)} MB/s`,
      ratio,
      ratioOf: 'MB/s / bound',
      target,
      pass: wireOk === undefined ? undefined : ratio >= factor && wireOk,
      detail: basis === undefined ? `${wireBasisId} did not run: wire not judged` : `wire ${((measured.wireBytes ?? 0) / 1e6).toFixed(1)} MB vs ${wireBasisId} ${(basis / 1e6).toFixed(1)} MB`,
    };
  };
}

/** Issue 10's S4-bwlimit: wire rate at most `over` x the limit, device MB/s at least `times` x the limit. */
export function bwlimitTarget(limitBytesPerSecond: number, over: number, times: number): Judge {
  return ({ measured }) => {
    const limitMB = limitBytesPerSecond / 1e6;
    const target = `wire <= ${over}x ${limitMB.toFixed(1)} MB/s, device >= ${times}x`;
    if (measured.wireBytes === undefined) return missing('wire bytes', target);
    const wireRate = measured.wireBytes / measured.medianSeconds / 1e6;
    const ratio = measured.mbps / limitMB;
    return {
      reference: `--bwlimit ${limitMB.toFixed(1)} MB/s`,
      ratio,
      ratioOf: 'MB/s / limit',
      target,
      pass: wireRate <= over * limitMB && ratio >= times,
      detail: `wire ${wireRate.toFixed(1)} MB/s`,
    };
  };
}
