/** Runs the real command (bin/basyn.js) as a user would, capturing its output. */
import { spawn } from 'node:child_process';
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
}

export function runBasyn(args: readonly string[], options: RunOptions = {}): Promise<BasynRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BASYN_BIN, ...args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Parses the --stat line into numbers. */
export function parseStat(stdout: string): { size: number; rx: number; tx: number; both: number } | undefined {
  const m = /STAT\. Device size:(\d+)B\. Traffic: Rx:(\d+)B, Tx:(\d+)B, Both:(\d+)B Ratio: [\d.]+%\. Time: [\d.]+s\. Bandwidth: Real:[\d.]+kB\/s, Effective:[\d.]+kB\/s/.exec(stdout);
  if (m === null) return undefined;
  return { size: Number(m[1]), rx: Number(m[2]), tx: Number(m[3]), both: Number(m[4]) };
}
