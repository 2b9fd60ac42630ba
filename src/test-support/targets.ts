/**
 * Where the "remote" device lives in an end-to-end test: on this machine (no -h,
 * the agent runs as a child process) or behind the private sshd of this test
 * process. Each test file gets the same two targets, so every behaviour is checked
 * with and without SSH.
 */
import { sharedSshd } from './sshd.js';

export interface Target {
  /** "local" or "SSH", for test names. */
  name: string;
  /** The host arguments for basyn (empty for local). */
  args: string[];
  /** Environment for basyn (the ssh wrapper first on PATH). */
  env?: NodeJS.ProcessEnv;
}

export const LOCAL: Target = { name: 'local', args: [] };

/** The SSH target, or the reason it is unavailable (sharedSshd throws instead in CI). */
export async function sshTarget(): Promise<Target | string> {
  const sshd = await sharedSshd();
  if (typeof sshd === 'string') return sshd;
  return { name: 'SSH', args: ['-h', sshd.host, '-p', String(sshd.port)], env: sshd.env };
}

/** Both targets; an unavailable one comes with the reason to skip it. */
export async function bothTargets(): Promise<{ target: Target; skip?: string }[]> {
  const ssh = await sshTarget();
  return [
    { target: LOCAL },
    typeof ssh === 'string' ? { target: { name: 'SSH', args: [] }, skip: `no sshd: ${ssh}` } : { target: ssh },
  ];
}
