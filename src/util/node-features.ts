/**
 * Features of newer nodes that code bundled into the agent uses, detected rather than
 * assumed: the agent runs under whatever node the remote host has, from 18.0 on (the
 * node 18 of Debian 12 and Ubuntu 24.04), while the command needs 20 or later.
 */
import * as os from 'node:os';
import { setFlagsFromString } from 'node:v8';

/**
 * The CPUs this process may run on. os.availableParallelism (node 18.14) heeds the
 * CPU affinity mask a container or taskset gives it; before it, os.cpus() is all there is.
 */
export function usableCpus(): number {
  const available = (os as { availableParallelism?: () => number }).availableParallelism;
  return typeof available === 'function' ? available() : Math.max(1, os.cpus().length);
}

/**
 * The V8 flag that keeps the optimising compilers off (why: docs/design.md). --max-opt
 * (it also covers Maglev) is missing from the V8 of node 18, which rejects it with a
 * line on stderr and keeps optimising; there --no-opt does the same job, as node 18
 * has no Maglev.
 */
export function baselineCompilerFlag(v8Version: string = process.versions.v8): string {
  const major = Number(v8Version.split('.')[0]);
  return major >= 11 ? '--max-opt=1' : '--no-opt';
}

export function keepToBaselineCompiler(): void {
  setFlagsFromString(baselineCompilerFlag());
  setFlagsFromString(NO_BACKGROUND_BASELINE_FLAG);
}

/**
 * Node 24 compiles baseline code on a background thread, and a process that exits
 * while such a job waits for a collection never ends: its main thread joins the job's
 * thread at exit, and the job waits for the main thread to collect (seen in gdb: an
 * agent of a CI run and a command, both idle for an hour). Compiled on the main
 * thread, as every older node does by default. Known to every node from 18 on.
 */
export const NO_BACKGROUND_BASELINE_FLAG = '--no-concurrent-sparkplug';
