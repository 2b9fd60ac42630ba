/**
 * Peak resident memory of basyn and of its agent, read from /proc while they run:
 * VmHWM (the kernel's own high-water mark) polled every 50 ms, so the figure is the
 * peak up to at most 50 ms before the process ended.
 *
 * The agent is the `node -e BOOTSTRAP` process: a child of basyn when it runs on
 * this machine, a descendant of the bench's sshd over SSH. Other test runs on the
 * machine may have agents of their own; only descendants of `roots` count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { BOOTSTRAP } from '../src/transport/agent-bootstrap.js';

const POLL_MS = 50;

export interface PeakRss {
  /** KiB; undefined when never read (the process ended too soon, or no /proc). */
  localKiB?: number;
  agentKiB?: number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** VmHWM of `pid` in KiB. */
export function highWaterKiB(pid: number): number | undefined {
  const status = readText(`/proc/${pid}/status`);
  const m = status === undefined ? null : /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return m === null ? undefined : Number(m[1]);
}

/** Fields 3 onwards of /proc/<pid>/stat (index 0 is field 3, the state). */
function statFields(pid: number): string[] | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: read after the last ')'.
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function parentPid(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : Number(fields[1]);
}

/** Start time in clock ticks since boot (field 22). */
function startTicks(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : Number(fields[19]);
}

function hasAncestor(pid: number, ancestors: ReadonlySet<number>): boolean {
  for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; hops++) {
    p = parentPid(p);
    if (p !== undefined && ancestors.has(p)) return true;
  }
  return false;
}

export function commandLine(pid: number): string[] | undefined {
  const raw = readText(`/proc/${pid}/cmdline`);
  return raw === undefined || raw === '' ? undefined : raw.replace(/\0$/, '').split('\0');
}

function numericEntries(dir: string): number[] {
  try {
    return readdirSync(dir).filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return [];
  }
}

const BOOTSTRAP_HEAD = BOOTSTRAP.slice(0, 60);

/** `node [AGENT_NODE_FLAGS] -e <the agent bootstrap>`, as started locally or by the remote shell. */
function isAgent(pid: number): boolean {
  const args = commandLine(pid);
  if (args === undefined || !/(^|\/)node$/.test(args[0] ?? '')) return false;
  const e = args.indexOf('-e');
  return e > 0 && args[e + 1]?.startsWith(BOOTSTRAP_HEAD) === true;
}

/** Agent processes descending from any of `roots`, started no earlier than `since` (ticks). */
function findAgents(roots: ReadonlySet<number>, since: number): number[] {
  return numericEntries('/proc').filter((pid) => isAgent(pid) && (startTicks(pid) ?? -1) >= since && hasAncestor(pid, roots));
}

/**
 * The oldest process whose command line mentions `text` (sshd rewrites its own
 * command line into one string, so this is a substring match).
 */
export function findProcessMentioning(text: string): number | undefined {
  const found = numericEntries('/proc').filter((pid) => commandLine(pid)?.join(' ').includes(text) ?? false);
  return found.sort((a, b) => a - b)[0];
}

/** Polls the peak RSS of `pid` and of the agent below it (or below `agentRoots`). */
export class PeakRssWatcher {
  private readonly roots: Set<number>;
  private readonly agents = new Set<number>();
  private readonly peak: PeakRss = {};
  private readonly timer: NodeJS.Timeout;
  /** An agent left over from an earlier run started before basyn did. */
  private readonly since: number;

  constructor(private readonly pid: number, agentRoots: readonly number[]) {
    this.roots = new Set([pid, ...agentRoots]);
    this.since = startTicks(pid) ?? 0;
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.poll();
  }

  private poll(): void {
    const local = highWaterKiB(this.pid);
    if (local !== undefined) this.peak.localKiB = Math.max(this.peak.localKiB ?? 0, local);
    if (this.agents.size === 0) for (const pid of findAgents(this.roots, this.since)) this.agents.add(pid);
    for (const pid of this.agents) {
      const agent = highWaterKiB(pid);
      if (agent !== undefined) this.peak.agentKiB = Math.max(this.peak.agentKiB ?? 0, agent);
    }
  }

  stop(): PeakRss {
    clearInterval(this.timer);
    return { ...this.peak };
  }
}
