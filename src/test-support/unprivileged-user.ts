/**
 * An unprivileged user for permission tests, where root would bypass the check: the
 * user `basyn-test` (created when missing; needs root), a copy of the built command
 * that user can read wherever the checkout lives, and the ssh fixture opened to it.
 * When something can't be had, the functions return the reason, so a test can skip
 * visibly (skipOrFail in fault-fixtures.ts fails instead in CI).
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';
import type { SshdFixture } from './sshd.js';

const execFileAsync = promisify(execFile);

export const TEST_USER = 'basyn-test';

export interface UnprivilegedUser {
  name: string;
  uid: number;
  gid: number;
}

let cached: Promise<UnprivilegedUser | string> | undefined;

/** The test user, created if missing (its password field is '*': no password, not locked, so ssh keys work). */
export function unprivilegedUser(): Promise<UnprivilegedUser | string> {
  cached ??= (async () => {
    if (process.getuid?.() !== 0) return 'creating and switching to an unprivileged user needs root';
    const lookup = (): { uid: number; gid: number } | undefined => {
      const r = spawnSync('id', ['-u', TEST_USER], { encoding: 'utf8' });
      const g = spawnSync('id', ['-g', TEST_USER], { encoding: 'utf8' });
      return r.status === 0 && g.status === 0 ? { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) } : undefined;
    };
    if (lookup() === undefined) {
      try {
        await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', TEST_USER]);
      } catch (error) {
        return `useradd ${TEST_USER} failed: ${(error as Error).message.split('\n')[0]}`;
      }
    }
    await execFileAsync('usermod', ['-p', '*', TEST_USER]).catch(() => undefined);
    const ids = lookup();
    if (ids === undefined) return `user ${TEST_USER} does not exist after useradd`;
    return { name: TEST_USER, ...ids };
  })();
  return cached;
}

let installed: Promise<string> | undefined;

/**
 * A copy of bin/, dist/, package.json and the runtime dependency in a folder anyone
 * can read (the checkout may sit in root's 0700 home). Returns the path of its bin/basyn.js.
 */
export function worldReadableBasyn(): Promise<string> {
  installed ??= (async () => {
    const dir = join(await makeWorldDir(), 'basyn');
    await mkdir(dir, { recursive: true });
    for (const part of ['bin', 'dist', 'package.json', join('node_modules', 'hash-wasm')]) {
      await cp(join(REPO_ROOT, part), join(dir, part), { recursive: true });
    }
    await execFileAsync('chmod', ['-R', 'a+rX', dir]);
    process.on('exit', () => spawnSync('rm', ['-rf', dirname(dir)]));
    return join(dir, 'bin', 'basyn.js');
  })();
  return installed;
}

async function makeWorldDir(): Promise<string> {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'basyn-world-'));
  await chmod(dir, 0o755);
  return dir;
}

/** Lets `user` log in to the test sshd with the fixture's key (sshd reads authorized_keys as the user). */
export async function openSshdTo(sshd: SshdFixture, user: UnprivilegedUser): Promise<string | undefined> {
  const dir = dirname(sshd.configFile);
  await chmod(dir, 0o711);
  await chmod(join(dir, 'authorized_keys'), 0o644);
  const r = spawnSync(sshd.ssh, ['-o', 'BatchMode=yes', '-p', String(sshd.port), '-l', user.name, sshd.host, 'id -un'], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0 || r.stdout.trim() !== user.name) return `ssh as ${user.name} failed: ${(r.stderr || r.stdout).trim()}`;
  return undefined;
}

/** A folder `user` can read and write (for devices that user should be able to touch). */
export async function sharedDir(parent: string): Promise<string> {
  const dir = join(parent, 'shared');
  await mkdir(dir, { recursive: true });
  await chmod(parent, 0o755);
  await chmod(dir, 0o777);
  await writeFile(join(dir, '.keep'), '');
  return dir;
}
