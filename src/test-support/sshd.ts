/**
 * A private sshd on 127.0.0.1 for end-to-end tests: throwaway host and user keys in
 * a temporary folder, no change to the machine's ssh configuration. The client side
 * is the real `ssh`, reached through a wrapper placed first on PATH that only adds
 * `-F <our config>` (ssh reads ~/.ssh/config from the passwd entry, not $HOME).
 *
 * Where sshd cannot run, `startSshd` returns the reason; in CI (CI=true) it throws,
 * because the SSH tests must run there.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, mkdir, writeFile, access } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './temp-dir.js';

const execFileAsync = promisify(execFile);

export interface SshdFixture {
  host: string;
  port: number;
  /** Environment for basyn: PATH starts with the ssh wrapper. */
  env: NodeJS.ProcessEnv;
  /** The ssh config file the wrapper uses (for tests that call ssh themselves). */
  configFile: string;
  /** Path of the ssh wrapper. */
  ssh: string;
  stop(): Promise<void>;
}

const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/sbin/sshd'];

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const p of paths) {
    try {
      await access(p);
      return p;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let shared: Promise<SshdFixture | string> | undefined;

/** One sshd per test process, started on first use and stopped at exit. */
export function sharedSshd(): Promise<SshdFixture | string> {
  shared ??= startSshd().then((s) => {
    if (typeof s !== 'string') process.on('exit', () => s.stopSync());
    return s;
  });
  return shared;
}

/** Starts sshd, or returns why it can't (throws instead when CI=true). */
export async function startSshd(): Promise<(SshdFixture & { stopSync(): void }) | string> {
  const why = await prerequisites();
  if (why !== undefined) {
    if (process.env.CI === 'true') throw new Error(`SSH tests must run in CI, but: ${why}`);
    return why;
  }
  const sshd = (await firstExisting(SSHD_CANDIDATES))!;
  const dir = await makeTempDir('basyn-sshd-');
  const hostKey = join(dir.path, 'host_ed25519');
  const userKey = join(dir.path, 'user_ed25519');
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
  const { readFile } = await import('node:fs/promises');
  await writeFile(join(dir.path, 'authorized_keys'), await readFile(`${userKey}.pub`));
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => undefined);
  const port = await freePort();
  const sshdConfig = join(dir.path, 'sshd_config');
  await writeFile(sshdConfig, [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir.path, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir.path, 'authorized_keys')}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin yes',
    'StrictModes no',
    'UsePAM no',
    'MaxStartups 200:30:400',
    'MaxSessions 200',
    'LogLevel ERROR',
    '',
  ].join('\n'));
  const configFile = join(dir.path, 'ssh_config');
  await writeFile(configFile, [
    'Host *',
    `  IdentityFile ${userKey}`,
    '  IdentitiesOnly yes',
    '  UserKnownHostsFile /dev/null',
    '  StrictHostKeyChecking no',
    '  LogLevel ERROR',
    '',
  ].join('\n'));
  const binDir = join(dir.path, 'bin');
  await mkdir(binDir);
  const realSsh = (await execFileAsync('sh', ['-c', 'command -v ssh'])).stdout.trim();
  const wrapper = join(binDir, 'ssh');
  await writeFile(wrapper, `#!/bin/sh\nexec '${realSsh}' -F '${configFile}' "$@"\n`);
  await chmod(wrapper, 0o755);

  const child: ChildProcess = spawn(sshd, ['-D', '-e', '-f', sshdConfig], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (log += t));
  // The test process must be able to exit while sshd runs: the exit hook stops it.
  child.unref();
  (child.stderr as Socket).unref();
  const env = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` };
  const fixture = {
    host: '127.0.0.1',
    port,
    env,
    configFile,
    ssh: wrapper,
    stop: async () => {
      child.kill('SIGTERM');
      await dir.remove();
    },
    stopSync: () => {
      child.kill('SIGTERM');
      rmSync(dir.path, { recursive: true, force: true });
    },
  };
  // Ready when a real login works. A login runs the remote user's shell start-up files,
  // which take seconds on a loaded machine: wait generously rather than skip (or, in CI,
  // fail) every ssh test.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      const reason = `sshd exited at start: ${log.trim()}`;
      if (process.env.CI === 'true') throw new Error(reason);
      return reason;
    }
    try {
      await execFileAsync(wrapper, ['-o', 'BatchMode=yes', '-p', String(port), '127.0.0.1', 'true'], { timeout: 20_000 });
      return fixture;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir.path, { recursive: true, force: true });
        const reason = `sshd did not accept a login within 60 s: ${String(error)} ${log.trim()}`;
        if (process.env.CI === 'true') throw new Error(reason);
        return reason;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function prerequisites(): Promise<string | undefined> {
  if ((await firstExisting(SSHD_CANDIDATES)) === undefined) return 'sshd is not installed (apt-get install openssh-server)';
  try {
    await execFileAsync('sh', ['-c', 'command -v ssh && command -v ssh-keygen']);
  } catch {
    return 'the ssh client is not installed (apt-get install openssh-client)';
  }
  if (process.getuid?.() !== 0) return 'sshd needs root here (it switches users)';
  return undefined;
}
