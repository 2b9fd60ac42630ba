/**
 * Runs a command and measures it: wall time from spawn to exit, and for basyn
 * also the bytes on the wire (its --stat line) and the peak RSS of it and its agent.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { BASYN_BIN } from '../src/test-support/paths.js';
import { parseStat } from '../src/test-support/run-basyn.js';
import { PeakRssWatcher, type PeakRss } from './peak-rss.js';

export interface TimedRun {
  seconds: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last lines of stderr, to explain a failure. */
  stderrTail: string;
}

export interface BasynRun extends TimedRun {
  /** Rx + Tx from the --stat line. */
  wireBytes?: number;
  rss: PeakRss;
}

export interface TimedRunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Called with the child's pid right after it was spawned. */
  onSpawn?: (pid: number) => void;
}

function tail(text: string, lines = 5): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** Spawns `command args`, resolving when it has exited and its output is closed. */
export function timeCommand(command: string, args: readonly string[], options: TimedRunOptions): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let ended = 0;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-8192)));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.on('exit', () => (ended = performance.now()));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ seconds: ((ended || performance.now()) - started) / 1000, code, signal, stdout, stderrTail: tail(stderr) });
    });
  });
}

/** Runs basyn with `args` plus --stat, watching its memory and its agent's. */
export async function timeBasyn(args: readonly string[], options: TimedRunOptions & { agentRoots: readonly number[]; node?: string }): Promise<BasynRun> {
  let watcher: PeakRssWatcher | undefined;
  // `node`: basyn under another node than the bench's (issue 10's S4-auto-node24).
  const run = await timeCommand(options.node ?? process.execPath, [BASYN_BIN, ...args, '--stat'], {
    ...options,
    onSpawn: (pid) => (watcher = new PeakRssWatcher(pid, options.agentRoots)),
  });
  const rss = watcher?.stop() ?? {};
  const stat = parseStat(run.stdout);
  return { ...run, rss, ...(stat !== undefined ? { wireBytes: stat.both } : {}) };
}

/** What went wrong in a run, or undefined when it succeeded. */
export function failureOf(run: TimedRun): string | undefined {
  if (run.code === 0) return undefined;
  const how = run.signal !== null ? `killed by ${run.signal}` : `exit code ${run.code}`;
  return `${how}${run.stderrTail !== '' ? `: ${run.stderrTail.replace(/\n/g, ' | ')}` : ''}`;
}
