/**
 * Where the "remote" device lives in an end-to-end test. On this machine without
 * -h, basyn opens both devices itself (no agent, nothing crosses a channel: the
 * STAT traffic is the data written to the destination). With --remote-node basyn
 * starts an agent as a child process on this machine, which is how a test exercises
 * the wire protocol without ssh. Behind the private sshd of this test process, the
 * agent runs over SSH.
 */
import { sharedSshd } from './sshd.js';

export interface Target {
  /** "local", "local agent" or "SSH", for test names. */
  name: string;
  /** The options that say where the remote side runs (empty for local). */
  args: string[];
  /** Environment for basyn (the ssh wrapper first on PATH). */
  env?: NodeJS.ProcessEnv;
  /**
   * True when the remote device is behind an agent, so the run talks the wire
   * protocol and --stat/--json traffic is what crossed the channel; false when basyn
   * opens both devices itself.
   */
  agent: boolean;
}

/** Both devices opened by basyn itself: no agent, no channel. */
export const LOCAL: Target = { name: 'local', args: [], agent: false };

/**
 * The agent as a child process on this machine, talking the wire protocol over pipes:
 * --remote-node (here the node running the tests) is what makes a run without -h
 * start an agent at all.
 */
export const LOCAL_AGENT: Target = { name: 'local agent', args: ['--remote-node', process.execPath], agent: true };

/** The SSH target, or the reason it is unavailable (sharedSshd throws instead in CI). */
export async function sshTarget(): Promise<Target | string> {
  const sshd = await sharedSshd();
  if (typeof sshd === 'string') return sshd;
  return { name: 'SSH', args: ['-h', sshd.host, '-p', String(sshd.port)], env: sshd.env, agent: true };
}

async function sshOrSkip(): Promise<{ target: Target; skip?: string }> {
  const ssh = await sshTarget();
  return typeof ssh === 'string' ? { target: { name: 'SSH', args: [], agent: true }, skip: `no sshd: ${ssh}` } : { target: ssh };
}

/** Local (in-process) and SSH; an unavailable one comes with the reason to skip it. */
export async function bothTargets(): Promise<{ target: Target; skip?: string }[]> {
  return [{ target: LOCAL }, await sshOrSkip()];
}

/** The targets that talk the wire protocol: the local agent and SSH. */
export async function agentTargets(): Promise<{ target: Target; skip?: string }[]> {
  return [{ target: LOCAL_AGENT }, await sshOrSkip()];
}

/** Local (in-process), the local agent and SSH. */
export async function allTargets(): Promise<{ target: Target; skip?: string }[]> {
  return [{ target: LOCAL }, { target: LOCAL_AGENT }, await sshOrSkip()];
}
