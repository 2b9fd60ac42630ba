/**
 * Devices basyn must refuse before writing anything: a directory, a FIFO (opening one
 * would block until a writer appears: it must not hang), a character device such as
 * /dev/null, a dangling symlink, a missing file, a destination on a read-only file
 * system, and, run as an unprivileged user (root bypasses permissions), a read-only
 * destination and an unreadable source. Locally, through a local agent and over SSH; a
 * FIFO or a socket never blocks the open (each run is killed after 20 s). Each run exits 2 with
 * one line giving the cause, and the other device keeps every byte.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { mountSmallTmpfs, skipOrFail, sshdOrSkip, stopSshdAfterFile, type SmallTmpfs } from '../test-support/fault-fixtures.js';
import { sha256File, writeImage } from '../test-support/images.js';
import { describeFinished, spawnBasyn, type Finished } from '../test-support/process-tree.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { openSshdTo, sharedDir, unprivilegedUser, worldReadableBasyn } from '../test-support/unprivileged-user.js';

const execFileAsync = promisify(execFile);
stopSshdAfterFile();

const SIZE = 1024 * 1024;
let dir: { path: string; remove(): Promise<void> };
let good: string;
let goodSha: string;
let readOnlyFs: SmallTmpfs | string;
let socketServer: Server;

before(async () => {
  dir = await makeTempDir('basyn-baddev-');
  good = join(dir.path, 'good.img');
  await writeImage(good, SIZE, 3);
  goodSha = await sha256File(good);
  await mkdir(join(dir.path, 'a directory'));
  await execFileAsync('mkfifo', [join(dir.path, 'a fifo')]);
  socketServer = createServer();
  await new Promise<void>((resolve) => socketServer.listen(join(dir.path, 'a socket'), resolve));
  await symlink(join(dir.path, 'nowhere', 'missing.img'), join(dir.path, 'dangling'));
  readOnlyFs = await mountSmallTmpfs(dir.path, 4 * SIZE);
  if (typeof readOnlyFs !== 'string') {
    await writeImage(join(readOnlyFs.path, 'on-ro.img'), SIZE, 4);
    await execFileAsync('mount', ['-o', 'remount,ro', readOnlyFs.path]);
  }
});
after(async () => {
  await new Promise((resolve) => socketServer.close(resolve));
  if (typeof readOnlyFs !== 'string') await readOnlyFs.unmount();
  await dir.remove();
});

interface BadDevice {
  name: string;
  path: () => string;
  cause: RegExp;
  /** Only as a destination (a read-only file system is fine to read). */
  destinationOnly?: boolean;
  needs?: () => string | undefined;
}

const BAD: BadDevice[] = [
  { name: 'a directory', path: () => join(dir.path, 'a directory'), cause: /it is a directory/ },
  { name: 'a FIFO', path: () => join(dir.path, 'a fifo'), cause: /neither a regular file nor a block device/ },
  { name: 'a socket', path: () => join(dir.path, 'a socket'), cause: /neither a regular file nor a block device/ },
  { name: '/dev/null (a character device)', path: () => '/dev/null', cause: /neither a regular file nor a block device/ },
  { name: 'a dangling symlink', path: () => join(dir.path, 'dangling'), cause: /ENOENT/ },
  { name: 'a missing file', path: () => join(dir.path, 'missing.img'), cause: /ENOENT/ },
  {
    name: 'a file on a read-only file system',
    path: () => join((readOnlyFs as SmallTmpfs).path, 'on-ro.img'),
    cause: /EROFS/,
    destinationOnly: true,
    needs: () => (typeof readOnlyFs === 'string' ? readOnlyFs : undefined),
  },
];

function assertRefused(t: TestContext, r: Finished & { ms: number }, path: string, cause: RegExp): void {
  assert.equal(r.code, 2, describeFinished(r));
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line: ${JSON.stringify(r.stderr)}`);
  t.diagnostic(lines[0]!);
  assert.match(lines[0]!, /^basyn: /);
  assert.ok(lines[0]!.includes(path), `the line does not name ${path}`);
  assert.match(lines[0]!, cause);
  assert.doesNotMatch(r.stderr, /^ {4}at /m);
}

for (const bad of BAD) {
  for (const role of ['source', 'destination'] as const) {
    if (bad.destinationOnly === true && role === 'source') continue;
    for (const where of ['locally', 'through a local agent', 'over SSH'] as const) {
      const ssh = where === 'over SSH';
      const remoteSide = where !== 'locally';
      test(`${bad.name} as the ${remoteSide ? 'remote ' : ''}${role} ${where} is refused (exit 2, the cause), nothing written`, async (t) => {
        const why = bad.needs?.();
        if (why !== undefined) return skipOrFail(t, why);
        const sshd = ssh ? await sshdOrSkip(t) : undefined;
        if (ssh && sshd === undefined) return;
        const path = bad.path();
        // Without -h or --remote-node basyn opens the "remote" device itself: test the bad
        // device on both sides (-l as source, -r as destination); through an agent, always
        // on the remote.
        let args: string[];
        if (remoteSide) args = role === 'destination' ? ['-l', good, '-r', path, '-a', 'PUSH'] : ['-l', good, '-r', path, '-a', 'PULL'];
        else args = role === 'source' ? ['-l', path, '-r', good, '-a', 'PUSH'] : ['-l', good, '-r', path, '-a', 'PUSH'];
        args.push('-m', 'COPY');
        if (sshd !== undefined) args.push('-h', sshd.host, '-p', String(sshd.port));
        if (where === 'through a local agent') args.push('--remote-node', process.execPath);
        const r = await spawnBasyn(args, { env: sshd?.env, timeoutMs: 20_000 }).timeExit();
        assertRefused(t, r, path, bad.cause);
        if (remoteSide) assert.match(r.stderr, /remote device/);
        assert.equal(await sha256File(good), goodSha, 'the good device changed');
      });
    }
  }
}

/** Permission cases: run as basyn-test, where the kernel enforces file modes. */
test('as an unprivileged user: a read-only destination and an unreadable source are refused, locally and over SSH', async (t) => {
  const user = await unprivilegedUser();
  if (typeof user === 'string') return skipOrFail(t, user);
  const bin = await worldReadableBasyn();
  const shared = await sharedDir(dir.path);
  // Owned by root: 0644 is read-only for the user, 0600 unreadable.
  const readOnly = join(shared, 'read-only.img');
  const unreadable = join(shared, 'unreadable.img');
  const mine = join(shared, 'mine.img');
  await writeImage(readOnly, SIZE, 10);
  await writeImage(unreadable, SIZE, 11);
  await writeImage(mine, SIZE, 12);
  await chmod(readOnly, 0o644);
  await chmod(unreadable, 0o600);
  await chown(mine, user.uid, user.gid);
  const shas = new Map([[readOnly, await sha256File(readOnly)], [unreadable, await sha256File(unreadable)], [mine, await sha256File(mine)]]);
  const env = { ...process.env, HOME: shared };

  await t.test('locally: PUSH to a read-only destination', async (t2) => {
    const r = await spawnBasyn(['-l', mine, '-r', readOnly, '-a', 'PUSH', '-m', 'COPY'], { env, uid: user.uid, gid: user.gid, bin }).timeExit();
    assertRefused(t2, r, readOnly, /EACCES/);
  });
  await t.test('locally: PUSH from an unreadable source', async (t2) => {
    const r = await spawnBasyn(['-l', unreadable, '-r', mine, '-a', 'PUSH', '-m', 'COPY'], { env, uid: user.uid, gid: user.gid, bin }).timeExit();
    assertRefused(t2, r, unreadable, /EACCES/);
  });
  await t.test('locally: PULL into a read-only local destination', async (t2) => {
    const r = await spawnBasyn(['-l', readOnly, '-r', mine, '-a', 'PULL', '-m', 'SYNC'], { env, uid: user.uid, gid: user.gid, bin }).timeExit();
    assertRefused(t2, r, readOnly, /EACCES/);
  });

  const sshd = await sshdOrSkip(t);
  if (sshd !== undefined) {
    const why = await openSshdTo(sshd, user);
    if (why !== undefined) {
      skipOrFail(t, why);
    } else {
      const remote = ['-h', sshd.host, '-p', String(sshd.port), '-u', user.name];
      const local = join(dir.path, 'local.img');
      await writeImage(local, SIZE, 13);
      await t.test('over SSH as the user: PUSH to a read-only remote destination', async (t2) => {
        const r = await spawnBasyn(['-l', local, '-r', readOnly, '-a', 'PUSH', '-m', 'COPY', ...remote], { env: sshd.env }).timeExit();
        assertRefused(t2, r, readOnly, /EACCES/);
        assert.match(r.stderr, /remote device .* on host 127\.0\.0\.1/);
      });
      await t.test('over SSH as the user: PULL from an unreadable remote source', async (t2) => {
        const r = await spawnBasyn(['-l', local, '-r', unreadable, '-a', 'PULL', '-m', 'COPY', ...remote], { env: sshd.env }).timeExit();
        assertRefused(t2, r, unreadable, /EACCES/);
      });
    }
  }
  for (const [file, sha] of shas) assert.equal(await sha256File(file), sha, `${file} changed`);
  await writeFile(join(shared, '.done'), '');
});
