/**
 * Peak resident memory of a basyn run and of its agent, read from /proc as the run
 * goes (VmHWM, the kernel's own high-water mark, polled every few milliseconds). A run
 * whose command or agent passes `capMiB` is killed at once with its agent and ssh
 * child: code that leaks fails in a second instead of thrashing for minutes.
 *
 * The agent is found as a `node -e <bootstrap>` child of basyn (local agent), or as
 * the agent the test sshd started for this run (over ssh: agents of that sshd that
 * were not there before the run began).
 */
import { readFileSync } from 'node:fs';
import { childPids, cmdline, isAgentCommand, spawnBasyn, sshAgentPids } from './process-tree.js';

const POLL_MS = 10;

export interface PeakRssRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak RSS of the basyn command, MiB. */
  commandMiB: number;
  /** Peak RSS of its agent, MiB; undefined when the run had none. */
  agentMiB: number | undefined;
  /** Set when the run was killed for passing the cap: which process, at how much. */
  overCap: string | undefined;
  seconds: number;
}

export interface PeakRssOptions {
  env?: NodeJS.ProcessEnv;
  /** The port of the test sshd the run's agent is started by (over ssh). */
  sshdPort?: number;
  /** Kill the run once the command or the agent holds more than this. */
  capMiB: number;
  timeoutMs?: number;
  /** Another build of basyn (bin/basyn.js), e.g. to compare with an older one. */
  bin?: string;
  /** Another node binary to run the command under. */
  node?: string;
}

/** VmHWM of `pid` in KiB, or undefined once it is gone. */
export function highWaterKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function runWithPeakRss(args: readonly string[], options: PeakRssOptions): Promise<PeakRssRun> {
  const started = Date.now();
  const before = new Set(options.sshdPort !== undefined ? sshAgentPids(options.sshdPort) : []);
  const run = spawnBasyn(args, { env: options.env, timeoutMs: options.timeoutMs ?? 300_000, bin: options.bin, node: options.node });
  const agents = new Set<number>();
  let commandKiB = 0;
  let agentKiB: number | undefined;
  let overCap: string | undefined;
  const capKiB = options.capMiB * 1024;
  const findAgents = (): void => {
    for (const pid of childPids(run.pid)) if (isAgentCommand(cmdline(pid))) agents.add(pid);
    if (options.sshdPort !== undefined) for (const pid of sshAgentPids(options.sshdPort)) if (!before.has(pid)) agents.add(pid);
  };
  const poll = (): void => {
    commandKiB = Math.max(commandKiB, highWaterKiB(run.pid) ?? 0);
    if (agents.size === 0) findAgents();
    for (const pid of agents) {
      const kib = highWaterKiB(pid);
      if (kib !== undefined) agentKiB = Math.max(agentKiB ?? 0, kib);
    }
    if (overCap !== undefined || run.exited) return;
    const over = commandKiB > capKiB ? `the command reached ${(commandKiB / 1024).toFixed(0)} MiB`
      : (agentKiB ?? 0) > capKiB ? `the agent reached ${((agentKiB ?? 0) / 1024).toFixed(0)} MiB` : undefined;
    if (over === undefined) return;
    overCap = over;
    const children = childPids(run.pid);
    kill(run.pid);
    for (const pid of [...children, ...agents]) kill(pid);
  };
  const timer = setInterval(poll, POLL_MS);
  poll();
  const r = await run.done;
  clearInterval(timer);
  // The agent may outlive the command by a moment: its last figure still counts.
  for (const pid of agents) {
    const kib = highWaterKiB(pid);
    if (kib !== undefined) agentKiB = Math.max(agentKiB ?? 0, kib);
    if (overCap !== undefined) kill(pid);
  }
  return {
    ...r,
    commandMiB: commandKiB / 1024,
    agentMiB: agentKiB === undefined ? undefined : agentKiB / 1024,
    overCap,
    seconds: (Date.now() - started) / 1000,
  };
}
