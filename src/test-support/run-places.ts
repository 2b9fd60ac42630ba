/**
 * The two places a feature test runs the "remote" side: a local agent (no -h) and
 * the private test sshd (-h 127.0.0.1 -p PORT). Tests loop over `runPlaces()` so each
 * behaviour is checked both ways; the SSH place carries a skip reason when sshd
 * can't run here (never in CI, where sharedSshd throws instead).
 */
import { type BasynRun } from './run-basyn.js';
import { sharedSshd, type SshdFixture } from './sshd.js';

export interface RunPlace {
  /** "locally" or "over ssh", for test names. */
  name: string;
  /** The host options to add to basyn's command line ([] locally). */
  hostArgs: string[];
  /** Environment for basyn (the ssh wrapper first on PATH over ssh). */
  env: NodeJS.ProcessEnv;
  /** Why this place can't run here, or undefined. */
  skip?: string;
  /** The sshd, over ssh. */
  sshd?: SshdFixture;
}

export async function runPlaces(): Promise<RunPlace[]> {
  const local: RunPlace = { name: 'locally', hostArgs: [], env: process.env };
  const sshd = await sharedSshd();
  if (typeof sshd === 'string') {
    return [local, { name: 'over ssh', hostArgs: [], env: process.env, skip: `no test sshd: ${sshd}` }];
  }
  return [local, { name: 'over ssh', hostArgs: ['-h', sshd.host, '-p', String(sshd.port)], env: sshd.env, sshd }];
}

/** The whole of stdout as one JSON document (fails the test, showing the output, if it is not). */
export function jsonOf(run: BasynRun): Record<string, any> {
  try {
    return JSON.parse(run.stdout) as Record<string, any>;
  } catch (error) {
    throw new Error(`stdout is not one JSON document (${String(error)}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** A one-line summary of a run, for assertion messages. */
export function describeRun(run: BasynRun): string {
  return `exit ${run.code}${run.signal !== null ? ` (${run.signal})` : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
}
