/**
 * Finding the processes of a run from the outside, as an operator would: the ssh
 * client or local agent that basyn started (its children, from /proc), and the agent
 * that a private sshd started (a `node -e` process whose SSH_CONNECTION names that
 * sshd's port, so agents of other sshd instances on the machine are never touched);
 * and holding a run still (SIGSTOP) early on, so a test can act in the middle of it.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { BASYN_BIN } from './paths.js';

/** The text of /proc/PID/task/TID/`file` for each thread still there. */
function perThread(pid: number, file: string): string[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const task of tasks) {
    try {
      out.push(readFileSync(`/proc/${pid}/task/${task}/${file}`, 'utf8'));
    } catch {
      // the thread ended
    }
  }
  return out;
}

export function childPids(pid: number): number[] {
  return perThread(pid, 'children').flatMap((text) => text.trim().split(/\s+/).filter((w) => w !== '').map(Number));
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

function environ(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; it is gone for our purposes.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The state letter of each thread of the process (R, S, D, T, t, Z...), from /proc. */
function threadStates(pid: number): string[] {
  // "tid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
  return perThread(pid, 'stat').map((stat) => stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
}

/**
 * Stops the process with SIGSTOP and resolves once every one of its threads is stopped
 * (the signal is delivered asynchronously: a thread inside a system call finishes it
 * first), so nothing of it runs until SIGCONT. False when the process was gone.
 */
export async function stopProcess(pid: number, timeoutMs = 10_000): Promise<boolean> {
  if (!isAlive(pid)) return false;
  process.kill(pid, 'SIGSTOP');
  return waitUntil(() => {
    if (!isAlive(pid)) return 'gone';
    const states = threadStates(pid);
    return states.length > 0 && states.every((s) => s === 'T' || s === 't') && 'stopped';
  }, timeoutMs, `process ${pid} to stop`).then((how) => how === 'stopped');
}

/** True when the command line is a bootstrapped basyn agent (`node -e <bootstrap>`). */
export function isAgentCommand(argv: string[]): boolean {
  if (!/(^|\/)node$/.test(argv[0] ?? '')) return false;
  const e = argv.indexOf('-e'); // after the agent's node options (AGENT_NODE_FLAGS)
  return e > 0 && argv[e + 1]?.includes('process.versions.node') === true;
}

/** Agents started by the sshd listening on `sshdPort` (matched by their SSH_CONNECTION). */
export function sshAgentPids(sshdPort: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (!isAgentCommand(cmdline(pid))) continue;
    const conn = environ(pid).find((e) => e.startsWith('SSH_CONNECTION='));
    if (conn !== undefined && conn.trim().endsWith(` ${sshdPort}`)) out.push(pid);
  }
  return out;
}

/** Polls `probe` (every `intervalMs`) until it returns a value other than undefined/false. */
export async function waitUntil<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Spawned {
  child: ChildProcess;
  pid: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly exited: boolean;
  done: Promise<Finished>;
  /** Milliseconds from `since` (default: the spawn) to the exit; resolves with the run. */
  timeExit(since?: number): Promise<Finished & { ms: number }>;
}

/** Starts bin/basyn.js, keeping its output; killed after `timeoutMs` so a hang fails the test. */
// `node`: another node binary to run the command under (the one running the tests by default).
export function spawnBasyn(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; uid?: number; gid?: number; bin?: string; node?: string } = {}): Spawned {
  const started = Date.now();
  const child = spawn(options.node ?? process.execPath, [options.bin ?? BASYN_BIN, ...args], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: options.uid,
    gid: options.gid,
  });
  let stdout = '';
  let stderr = '';
  let exited = false;
  let exitAt = 0;
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.on('exit', () => (exitAt = Date.now()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      exited = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    pid: child.pid!,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get exited() {
      return exited;
    },
    done,
    async timeExit(since = started) {
      const r = await done;
      return { ...r, ms: exitAt - since };
    },
  };
}

/** One line summary of a finished run, for assertion messages. */
export function describeFinished(r: Finished): string {
  return `exit ${r.code}${r.signal !== null ? ` (signal ${r.signal})` : ''}; stdout ${JSON.stringify(r.stdout.slice(-500))}; stderr ${JSON.stringify(r.stderr.slice(-1500))}`;
}

export interface EarlyStop {
  /** How far the run got, seen from outside (bytes written to its destination, say). */
  progress: (run: Spawned) => number;
  /** Stop it once progress is at least this (default: any). */
  atLeast?: number;
  /** The most progress the test can use: a run stopped later is killed and started again. */
  latest: number;
  /** Runs in all before the test fails (default 3). */
  attempts?: number;
  /** Before each start: fresh devices. */
  prepare?: () => Promise<void>;
  /** Told why an attempt was thrown away. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Starts basyn and stops it (SIGSTOP) as soon as its progress is seen, polling every
 * millisecond or so. A run in this process moves about a GiB a second, faster than a
 * test can act on from outside: stopped, it holds still while the test changes a
 * device or sends a signal, and both land in the middle of the run whatever the
 * machine's load. The caller continues it (SIGCONT). A run that got further than
 * `latest` before it stood still (a busy machine) is killed and started again.
 */
export async function spawnStoppedEarly(args: readonly string[], options: EarlyStop): Promise<{ run: Spawned; progress: number }> {
  const attempts = options.attempts ?? 3;
  const atLeast = options.atLeast ?? 1;
  for (let attempt = 1; ; attempt++) {
    await options.prepare?.();
    const run = spawnBasyn(args, { env: options.env, timeoutMs: options.timeoutMs });
    let progress = 0;
    await waitUntil(() => run.exited || (progress = options.progress(run)) >= atLeast, 30_000, 'the run to be under way', 1);
    if (!run.exited && (await stopProcess(run.pid))) {
      // Nothing of it runs now: this is how far it got.
      progress = options.progress(run);
      if (progress <= options.latest) return { run, progress };
      process.kill(run.pid, 'SIGKILL');
    }
    const r = await run.done;
    const why = `attempt ${attempt}: the run got to ${progress} (at most ${options.latest} wanted) before it was stopped; ${describeFinished(r)}`;
    options.log?.(why);
    if (attempt >= attempts) throw new Error(`in ${attempts} attempts the run could not be stopped early enough; ${why}`);
  }
}

/** Bytes the file system has allocated for a file, at once: how much of a sparse file was written. */
export function allocatedNow(path: string): number {
  try {
    return statSync(path).blocks * 512;
  } catch {
    return 0;
  }
}

/** Bytes the process has read so far (rchar of /proc/PID/io: files and pipes). */
export function bytesReadBy(pid: number): number {
  try {
    return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
