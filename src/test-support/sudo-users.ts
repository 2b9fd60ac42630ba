/**
 * Unprivileged users for the --sudo tests: they log in to the test sshd with the
 * fixture's key, one of them with a NOPASSWD sudo rule for the node binary and one
 * without any. Needs root, useradd and sudo; otherwise `prepareSudoUsers` returns
 * the reason (and throws in CI, where these tests must run).
 *
 * The sshd fixture reads one AuthorizedKeysFile (in its temporary folder) for every
 * user, and sshd opens it as the user logging in: the folder is made traversable
 * (0711, nothing listable; the private key in it stays 0600 and root's).
 * With `UsePAM no`, sshd refuses accounts whose password is locked ("!"), as
 * useradd leaves them: the password is set to "*" (no password can match).
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { SshdFixture } from './sshd.js';

const execFileAsync = promisify(execFile);

export const SUDO_USER = 'basyn-test';
export const NO_SUDO_USER = 'basyn-test-nosudo';

export interface SudoUsers {
  /** Has `NOPASSWD:` for `node` (its absolute path, any arguments). */
  withSudo: string;
  /** Has no sudo rule at all. */
  withoutSudo: string;
  /** The absolute node path the rule allows (pass it as --remote-node). */
  node: string;
  /** Removes the sudoers file (the users stay, for the next run). */
  cleanup(): Promise<void>;
}

async function commandExists(name: string): Promise<boolean> {
  try {
    await execFileAsync('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

async function ensureUser(name: string): Promise<void> {
  try {
    await execFileAsync('getent', ['passwd', name]);
  } catch {
    await execFileAsync('useradd', ['-m', '-s', '/bin/sh', name]);
  }
  await execFileAsync('usermod', ['-p', '*', name]);
}

/** A sudoers line's command, with the characters sudoers treats specially escaped. */
function sudoersPath(path: string): string {
  return path.replace(/[\\,:= ]/g, (c) => `\\${c}`);
}

export async function prepareSudoUsers(sshd: SshdFixture): Promise<SudoUsers | string> {
  const why = await missing();
  if (why !== undefined) {
    if (process.env.CI === 'true') throw new Error(`the --sudo tests must run in CI, but: ${why}`);
    return why;
  }
  await ensureUser(SUDO_USER);
  await ensureUser(NO_SUDO_USER);
  await chmod(dirname(sshd.configFile), 0o711);
  const node = process.execPath;
  const file = `/etc/sudoers.d/basyn-test-${process.pid}`;
  const text = `# basyn tests (removed at the end of the test run)\n${SUDO_USER} ALL=(root) NOPASSWD: ${sudoersPath(node)}\n`;
  const staged = `/etc/sudoers.d/.basyn-test-${process.pid}.tmp`;
  await writeFile(staged, text, { mode: 0o440 });
  try {
    await execFileAsync('visudo', ['-c', '-q', '-f', staged]);
  } catch (error) {
    await rm(staged, { force: true });
    throw new Error(`the sudoers rule does not parse: ${(error as Error).message}`);
  }
  // sudo ignores files whose names contain a dot: the staged file never counts.
  await rename(staged, file);
  const cleanup = async (): Promise<void> => {
    await rm(file, { force: true });
  };
  // Last resort if the test process ends without calling cleanup().
  process.on('exit', () => rmSync(file, { force: true }));
  return { withSudo: SUDO_USER, withoutSudo: NO_SUDO_USER, node, cleanup };
}

async function missing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'creating test users needs root';
  for (const tool of ['sudo', 'visudo', 'useradd', 'usermod', 'getent']) {
    if (!(await commandExists(tool))) return `${tool} is not installed`;
  }
  return undefined;
}
