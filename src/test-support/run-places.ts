/**
 * The places a feature test runs the "remote" side: on this machine, opened by basyn
 * itself (no -h: no agent, nothing crosses a channel); on this machine through a
 * local agent child (--remote-node, so the wire protocol is exercised without ssh);
 * and behind the private test sshd (-h 127.0.0.1 -p PORT). Tests loop over
 * `runPlaces()` (in-process and SSH), `agentPlaces()` (local agent and SSH: what is
 * about the wire) or `allPlaces()`; the SSH place carries a skip reason when sshd
 * can't run here (never in CI, where sharedSshd throws instead).
 */
import { type BasynRun } from './run-basyn.js';
import { sharedSshd, type SshdFixture } from './sshd.js';

export interface RunPlace {
  /** "locally", "through a local agent" or "over ssh", for test names. */
  name: string;
  /** The options that say where the remote side runs ([] locally). */
  hostArgs: string[];
  /** Environment for basyn (the ssh wrapper first on PATH over ssh). */
  env: NodeJS.ProcessEnv;
  /** Why this place can't run here, or undefined. */
  skip?: string;
  /** The sshd, over ssh. */
  sshd?: SshdFixture;
  /**
   * True when the remote device is behind an agent, so traffic figures are what
   * crossed the channel; false when basyn opens both devices itself.
   */
  agent: boolean;
}

/** On this machine, both devices opened by basyn itself. */
export const IN_PROCESS_PLACE: RunPlace = { name: 'locally', hostArgs: [], env: process.env, agent: false };

/**
 * On this machine through an agent child talking the wire protocol over pipes:
 * --remote-node is what makes a run without -h start an agent at all.
 */
export const LOCAL_AGENT_PLACE: RunPlace = {
  name: 'through a local agent', hostArgs: ['--remote-node', process.execPath], env: process.env, agent: true,
};

async function sshPlace(): Promise<RunPlace> {
  const sshd = await sharedSshd();
  if (typeof sshd === 'string') return { name: 'over ssh', hostArgs: [], env: process.env, agent: true, skip: `no test sshd: ${sshd}` };
  return { name: 'over ssh', hostArgs: ['-h', sshd.host, '-p', String(sshd.port)], env: sshd.env, sshd, agent: true };
}

/** In-process and over ssh. */
export async function runPlaces(): Promise<RunPlace[]> {
  return [IN_PROCESS_PLACE, await sshPlace()];
}

/** The places that talk the wire protocol: the local agent and ssh. */
export async function agentPlaces(): Promise<RunPlace[]> {
  return [LOCAL_AGENT_PLACE, await sshPlace()];
}

/** In-process, through the local agent and over ssh. */
export async function allPlaces(): Promise<RunPlace[]> {
  return [IN_PROCESS_PLACE, LOCAL_AGENT_PLACE, await sshPlace()];
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
