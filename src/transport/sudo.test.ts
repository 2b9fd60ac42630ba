/**
 * --sudo for real: an unprivileged user logs in to the test sshd and writes a
 * root-owned 0600 image through `sudo -n`; without --sudo it is refused; a user
 * with no sudo rule fails at once with a message saying sudo wants a password.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, seededImage, sha256File } from '../test-support/images.js';
import { describeRun, runPlaces } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { prepareSudoUsers, type SudoUsers } from '../test-support/sudo-users.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { BASYN_BIN } from '../test-support/paths.js';

const SIZE = 4 * 1024 * 1024;

const ssh = (await runPlaces())[1]!;
const sshd = ssh.sshd ?? ssh.skip ?? 'no test sshd';
const users: SudoUsers | string = typeof sshd === 'string' ? sshd : await prepareSudoUsers(sshd);
const skip = typeof users === 'string' ? users : false;
if (skip !== false) console.log(`# skipping the --sudo tests: ${skip}`);

let dir: { path: string; remove(): Promise<void> };
let source: string;
let destination: string;

before(async () => {
  dir = await makeTempDir('basyn-sudo-');
  // The users must reach the files, so that the refusal is about the file itself.
  await chmod(dir.path, 0o755);
  source = join(dir.path, 'source.img');
  destination = join(dir.path, 'root-only.img');
  await writeFile(source, seededImage(SIZE, 1));
});

after(async () => {
  await dir?.remove();
  if (typeof users !== 'string') await users.cleanup();
});

async function rootOnlyDestination(seed: number): Promise<void> {
  await writeFile(destination, seededImage(SIZE, seed), { mode: 0o600 });
  await chmod(destination, 0o600);
}

function sshArgs(user: string): string[] {
  if (typeof sshd === 'string' || typeof users === 'string') throw new Error('unreachable');
  return ['-h', sshd.host, '-p', String(sshd.port), '-u', user, '--remote-node', users.node];
}

function env(): NodeJS.ProcessEnv {
  if (typeof sshd === 'string') throw new Error('unreachable');
  return sshd.env;
}

test('without --sudo, an unprivileged ssh user cannot write a root-owned 0600 image (exit 2, permission denied)', { skip }, async () => {
  const u = users as SudoUsers;
  await rootOnlyDestination(2);
  const before = await sha256File(destination);
  const r = await runBasyn(['-l', source, '-r', destination, ...sshArgs(u.withSudo), '-a', 'PUSH', '-m', 'SYNC'], { env: env(), timeoutMs: 30_000 });
  assert.equal(r.code, 2, describeRun(r));
  assert.match(r.stderr, /EACCES|permission denied/i);
  assert.match(r.stderr, new RegExp(destination.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.equal(await sha256File(destination), before);
});

test('with --sudo, the same user PUSH SYNCs into the root-owned 0600 image through a NOPASSWD rule', { skip }, async () => {
  const u = users as SudoUsers;
  await rootOnlyDestination(3);
  const r = await runBasyn(['-l', source, '-r', destination, ...sshArgs(u.withSudo), '--sudo', '-a', 'PUSH', '-m', 'SYNC', '--buffer', '512', '--json'], {
    env: env(),
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination), 'destination differs from the source after the sync');
  const info = await stat(destination);
  assert.equal(info.uid, 0, 'the destination stays root-owned');
  assert.equal(info.mode & 0o777, 0o600, 'the destination keeps mode 0600');
  const report = JSON.parse(r.stdout) as { remote: { bytesWritten: number }; blocks: { differing: number } };
  assert.equal(report.blocks.differing, SIZE / (512 * 1024));
  assert.equal(report.remote.bytesWritten, SIZE);
});

test('with --sudo, the user can PULL from a root-only 0600 source', { skip }, async () => {
  const u = users as SudoUsers;
  await rootOnlyDestination(4); // here the root-only file is the source
  const local = join(dir.path, 'pulled.img');
  await writeFile(local, seededImage(SIZE, 5));
  const r = await runBasyn(['-l', local, '-r', destination, ...sshArgs(u.withSudo), '--sudo', '-a', 'PULL', '-m', 'SYNC'], { env: env(), timeoutMs: 30_000 });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(destination, local));
});

test('--sudo for a user without a sudo rule fails at once, saying sudo wants a password (no tty, no hang)', { skip }, async () => {
  const u = users as SudoUsers;
  await rootOnlyDestination(6);
  const before = await sha256File(destination);
  const started = performance.now();
  const r = await runBasyn(['-l', source, '-r', destination, ...sshArgs(u.withoutSudo), '--sudo', '-a', 'PUSH', '-m', 'SYNC'], { env: env(), timeoutMs: 30_000 });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(r.signal, null, `basyn hung and was killed after ${seconds} s: ${describeRun(r)}`);
  assert.equal(r.code, 2, describeRun(r));
  assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s to fail`);
  assert.match(r.stderr, /sudo/);
  assert.match(r.stderr, /wants a password/);
  assert.equal(await sha256File(destination), before);
});

test('--sudo without -h runs the local agent through sudo -n (as root here)', { skip }, async () => {
  await rootOnlyDestination(7);
  const r = await runBasyn(['-l', source, '-r', destination, '--sudo', '-a', 'PUSH', '-m', 'COPY']);
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination));
});

/** Runs basyn as another user of this machine (the test runs as root). */
function runAs(user: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('id', ['-u', user], (e1, uid) => {
      execFile('id', ['-g', user], (e2, gid) => {
        if (e1 !== null || e2 !== null) throw e1 ?? e2;
        execFile(process.execPath, [BASYN_BIN, ...args], { uid: Number(uid), gid: Number(gid), cwd: dir.path, timeout: 30_000 }, (error, _stdout, stderr) => {
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr });
        });
      });
    });
  });
}

test('--sudo without -h, for a user without a sudo rule, fails at once naming the node binary to allow', { skip }, async (t) => {
  const u = users as SudoUsers;
  const probe = await runAs(u.withoutSudo, ['--version']);
  if (probe.code !== 0) {
    t.skip(`${u.withoutSudo} cannot run this checkout's basyn: ${probe.stderr.split('\n')[0]}`);
    return;
  }
  await rootOnlyDestination(8);
  const started = performance.now();
  const r = await runAs(u.withoutSudo, ['-l', source, '-r', destination, '--sudo', '-a', 'PUSH', '-m', 'SYNC']);
  assert.equal(r.code, 2, r.stderr);
  assert.ok((performance.now() - started) / 1000 < 10);
  assert.match(r.stderr, /wants a password/);
  assert.ok(r.stderr.includes(`NOPASSWD sudo rule for ${process.execPath}`), r.stderr);
});
