/**
 * Runs one scenario: its ceiling, its untimed set-up, `runs` timed runs of basyn,
 * then the medians and peaks, and the verdict on its target.
 */
import type { Ceiling, Ceilings } from './ceilings.js';
import type { Scenario } from './scenarios.js';
import { max, median } from './stats.js';
import type { Measured, Verdict } from './targets.js';
import { failureOf, timeBasyn, type BasynRun } from './timed-run.js';
import type { Log, Workspace } from './workspace.js';

export interface RunFigures {
  seconds: number;
  wireBytes?: number;
  rssLocalKiB?: number;
  rssAgentKiB?: number;
}

export interface ScenarioResult extends Partial<Measured> {
  id: string;
  group: string;
  title: string;
  bytes: number;
  args?: string[];
  runs: RunFigures[];
  error?: string;
  verdict?: Verdict;
}

export interface ScenarioContext {
  workspace: Workspace;
  ceilings: Ceilings;
  size: number;
  runs: number;
  log: Log;
  /** Figures of the scenarios that ran before, by id (S3, S6 and S7 compare with them). */
  earlier: Map<string, Measured>;
}

const MB = 1e6;
const KiB = 1024;

/** Generous: the original tool's slowest case (level 9) ran at about 6 MB/s. */
function timeoutFor(bytes: number): number {
  return 120_000 + (bytes / (2 * MB)) * 1000;
}

function figuresOf(run: BasynRun): RunFigures {
  return {
    seconds: run.seconds,
    ...(run.wireBytes !== undefined ? { wireBytes: run.wireBytes } : {}),
    ...(run.rss.localKiB !== undefined ? { rssLocalKiB: run.rss.localKiB } : {}),
    ...(run.rss.agentKiB !== undefined ? { rssAgentKiB: run.rss.agentKiB } : {}),
  };
}

/** Median time and wire bytes; memory is the peak over all runs. */
export function summarize(bytes: number, runs: readonly RunFigures[]): Measured {
  const medianSeconds = median(runs.map((r) => r.seconds));
  const wires = runs.map((r) => r.wireBytes).filter((w): w is number => w !== undefined);
  const local = max(runs.map((r) => r.rssLocalKiB));
  const agent = max(runs.map((r) => r.rssAgentKiB));
  return {
    bytes,
    medianSeconds,
    mbps: bytes / medianSeconds / MB,
    ...(wires.length > 0 ? { wireBytes: median(wires) } : {}),
    ...(local !== undefined ? { rssLocalMiB: local / KiB } : {}),
    ...(agent !== undefined ? { rssAgentMiB: agent / KiB } : {}),
  };
}

async function ceilingOf(scenario: Scenario, ctx: ScenarioContext): Promise<Ceiling | undefined> {
  if (scenario.ceiling === undefined) return undefined;
  try {
    return await ctx.ceilings.get(scenario.ceiling);
  } catch (error) {
    ctx.log(`${scenario.id}: ceiling ${scenario.ceiling} could not be measured: ${(error as Error).message}`);
    return undefined;
  }
}

async function allCeilings(ctx: ScenarioContext): Promise<Map<string, Ceiling>> {
  return new Map((await ctx.ceilings.all()).map((c) => [c.key, c]));
}

export async function runScenario(scenario: Scenario, ctx: ScenarioContext): Promise<ScenarioResult> {
  const bytes = scenario.bytes(ctx.size);
  const result: ScenarioResult = { id: scenario.id, group: scenario.group, title: scenario.title, bytes, runs: [] };
  const ceiling = await ceilingOf(scenario, ctx);
  for (const key of scenario.alsoCeilings ?? []) await ceilingOf({ ...scenario, ceiling: key }, ctx);
  ctx.log(`${scenario.id}: ${scenario.title}`);
  try {
    const plan = await scenario.plan(ctx.workspace, ctx.size);
    result.args = plan.args;
    try {
      for (let i = 1; i <= ctx.runs; i++) {
        await plan.beforeEachRun?.();
        const run = await timeBasyn(plan.args, { env: plan.env, agentRoots: plan.agentRoots, timeoutMs: timeoutFor(bytes), ...(plan.node !== undefined ? { node: plan.node } : {}) });
        const failure = failureOf(run);
        if (failure !== undefined) throw new Error(`run ${i} failed: ${failure}`);
        result.runs.push(figuresOf(run));
        ctx.log(`${scenario.id} run ${i}/${ctx.runs}: ${run.seconds.toFixed(3)} s, ${(bytes / run.seconds / MB).toFixed(0)} MB/s`);
      }
    } finally {
      await plan.afterRuns?.();
    }
  } catch (error) {
    result.error = (error as Error).message;
    ctx.log(`${scenario.id}: ${result.error}`);
    return result;
  }
  const measured = summarize(bytes, result.runs);
  Object.assign(result, measured);
  ctx.earlier.set(scenario.id, measured);
  result.verdict = scenario.judge({
    measured,
    ...(ceiling !== undefined ? { ceiling } : {}),
    earlier: ctx.earlier,
    ceilings: await allCeilings(ctx),
    size: ctx.size,
  });
  return result;
}
