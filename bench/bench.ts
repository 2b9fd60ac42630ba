/**
 * `npm run bench`: measures basyn against the machine's own ceilings (issue 5).
 * Progress goes to stderr, the report (Markdown tables) to stdout, and with
 * --json PATH every figure to a JSON file. See bench/README.md.
 */
import { performance } from 'node:perf_hooks';
import { BENCH_USAGE, BenchUsageError, parseBenchOptions, type BenchOptions } from './bench-options.js';
import * as zlib from 'node:zlib';
import { Ceilings } from './ceilings.js';
import { describeCheckout, describeMachine, formatReport, writeJsonReport, type BenchReport } from './report.js';
import { runScenario, type ScenarioResult } from './run-scenario.js';
import { selectScenarios, type Scenario } from './scenarios.js';
import type { Measured } from './targets.js';
import { Workspace, type Log } from './workspace.js';

const started = performance.now();

const log: Log = (message) => {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
};

function optionsOrExit(): { options: BenchOptions; scenarios: Scenario[] } {
  try {
    const options = parseBenchOptions(process.argv.slice(2));
    if (options === undefined) {
      process.stdout.write(BENCH_USAGE);
      process.exit(0);
    }
    return { options, scenarios: selectScenarios(options.only) };
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${BENCH_USAGE}`);
    process.exit(1);
  }
}

/** Removes the images (and stops sshd and proxies) on Ctrl-C too. */
function closeOnInterrupt(workspace: Workspace): void {
  const stop = (signal: NodeJS.Signals): void => {
    log(`${signal}: removing the images`);
    void workspace.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function runAll(options: BenchOptions, scenarios: Scenario[], workspace: Workspace): Promise<BenchReport> {
  const ceilings = new Ceilings(workspace, options.size, options.runs, log);
  await ceilings.get('read');
  if (scenarios.some((s) => s.group === 'S4')) {
    // Issue 10: what one core of zstd does at levels 1 and 3, WASM and (where node has it) built-in.
    const builtin = typeof (zlib as unknown as Record<string, unknown>).zstdCompressSync === 'function';
    for (const level of [1, 3]) {
      await ceilings.get(`zstd:${level}`);
      if (builtin) await ceilings.get(`zstd-wasm:${level}`);
    }
  }
  const earlier = new Map<string, Measured>();
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    results.push(await runScenario(scenario, { workspace, ceilings, size: options.size, runs: options.runs, log, earlier }));
  }
  return {
    ...describeCheckout(),
    date: new Date().toISOString(),
    machine: describeMachine(),
    options,
    ...(workspace.mixedZlib1Ratio !== undefined ? { mixedZlib1Ratio: workspace.mixedZlib1Ratio } : {}),
    ceilings: await ceilings.all(),
    scenarios: results,
  };
}

async function main(): Promise<void> {
  const { options, scenarios } = optionsOrExit();
  log(`${scenarios.length} scenario(s), ${options.size / 1024 ** 2} MiB images in ${options.dir}, ${options.runs} run(s) each`);
  const workspace = await Workspace.create(options.dir, log);
  closeOnInterrupt(workspace);
  let report: BenchReport;
  try {
    report = await runAll(options, scenarios, workspace);
  } finally {
    await workspace.close();
  }
  process.stdout.write(formatReport(report));
  if (options.json !== undefined) {
    await writeJsonReport(options.json, report);
    log(`JSON written to ${options.json}`);
  }
  const failed = report.scenarios.filter((s) => s.error !== undefined).length;
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s${failed > 0 ? `, ${failed} scenario(s) could not run` : ''}`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
