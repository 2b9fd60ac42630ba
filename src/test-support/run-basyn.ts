/** Runs the real command (bin/basyn.js) as a user would, capturing its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { BASYN_BIN } from './paths.js';

export interface BasynRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** The node that runs the command (default: the one running the tests). */
  node?: string;
}

export interface StartedBasyn {
  child: ChildProcess;
  /** Output so far (grows while the command runs). */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when stdout or stderr so far matches `pattern` (rejects if the command ends first). */
  waitFor(pattern: RegExp): Promise<void>;
  done: Promise<BasynRun>;
}

/** Starts the command and hands back the child, for tests that signal it while it runs. */
export function startBasyn(args: readonly string[], options: RunOptions = {}): StartedBasyn {
  const child = spawn(options.node ?? process.execPath, [BASYN_BIN, ...args], {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let watchers: (() => void)[] = [];
  const notify = (): void => {
    for (const w of watchers) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (t: string) => {
    stdout += t;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (t: string) => {
    stderr += t;
    notify();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const done = new Promise<BasynRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      notify();
      resolve({ code, signal, stdout, stderr });
    });
  });
  let ended = false;
  void done.then(() => (ended = true), () => (ended = true));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitFor(pattern: RegExp): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(stdout) || pattern.test(stderr)) {
            watchers = watchers.filter((w) => w !== check);
            resolve();
          } else if (ended || child.exitCode !== null || child.signalCode !== null) {
            watchers = watchers.filter((w) => w !== check);
            reject(new Error(`basyn ended before printing ${pattern}: stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`));
          }
        };
        watchers.push(check);
        check();
      });
    },
    done,
  };
}

export function runBasyn(args: readonly string[], options: RunOptions = {}): Promise<BasynRun> {
  return startBasyn(args, options).done;
}

/** The exact --stat line format of the original tool, as one whole line. */
export const STAT_LINE =
  /^STAT\. Device size:(\d+)B\. Traffic: Rx:(\d+)B, Tx:(\d+)B, Both:(\d+)B Ratio: (\d+\.\d{4})%\. Time: (\d+\.\d{2})s\. Bandwidth: Real:(\d+\.\d{2})kB\/s, Effective:(\d+\.\d{2})kB\/s$/m;

/** Parses the --stat line into numbers. */
export function parseStat(stdout: string): { size: number; rx: number; tx: number; both: number; ratio: number; seconds: number } | undefined {
  const m = STAT_LINE.exec(stdout);
  if (m === null) return undefined;
  return { size: Number(m[1]), rx: Number(m[2]), tx: Number(m[3]), both: Number(m[4]), ratio: Number(m[5]), seconds: Number(m[6]) };
}

/** A one-line summary of a run for assertion messages. */
export function describeRun(r: BasynRun): string {
  return `exit ${r.code}${r.signal !== null ? ` (signal ${r.signal})` : ''}; stdout: ${JSON.stringify(r.stdout.slice(-600))}; stderr: ${JSON.stringify(r.stderr.slice(-1200))}`;
}
