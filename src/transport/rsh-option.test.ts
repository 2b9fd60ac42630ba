/**
 * -e/--rsh: the ssh command line, split like a shell splits it but never run by
 * one; -p, -u and -h still apply. Checked end to end against the test sshd.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runPlaces } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 3 * 1024 * 1024 + 4096;
const ssh = (await runPlaces())[1]!;
const skip = ssh.skip ?? false;
const sshd = ssh.sshd;

let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-rsh-');
});
after(async () => {
  await dir?.remove();
});

/** Quotes a word for -e the way a user would in a shell. */
function q(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

async function pair(): Promise<{ source: string; destination: string }> {
  n++;
  const source = join(dir.path, `s${n}.img`);
  const destination = join(dir.path, `d${n}.img`);
  await writeImage(source, SIZE, 10 + n);
  await writeImage(destination, SIZE, 100 + n);
  return { source, destination };
}

/** A wrapper around the fixture's ssh, in a folder with a space, that records its arguments. */
async function loggingSsh(): Promise<{ path: string; log: string }> {
  const folder = join(dir.path, `ssh wrapper ${n}`);
  await mkdir(folder);
  const log = join(folder, 'args.log');
  const path = join(folder, 'ssh');
  await writeFile(path, `#!/bin/sh\nprintf '%s\\n' "$@" > ${q(log)}\nexec ${q(sshd!.ssh)} "$@"\n`);
  await chmod(path, 0o755);
  return { path, log };
}

/** An environment whose PATH does not reach the fixture's ssh wrapper: plain `ssh` cannot log in. */
function plainEnv(): NodeJS.ProcessEnv {
  return process.env;
}

test('-e with the fixture ssh and an option works where plain ssh could not log in (PUSH SYNC)', { skip }, async () => {
  const { source, destination } = await pair();
  const r = await runBasyn(
    ['-l', source, '-r', destination, '-h', sshd!.host, '-p', String(sshd!.port), '-e', `${q(sshd!.ssh)} -o Compression=no`, '-a', 'PUSH', '-m', 'SYNC'],
    { env: plainEnv(), timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination));
});

test('-e with a quoted program path containing a space and a quoted option containing a space; -p, -u and -h still apply (PULL SYNC)', { skip }, async () => {
  const { source, destination } = await pair();
  const wrapper = await loggingSsh();
  const user = userInfo().username;
  const rsh = `${q(wrapper.path)} -o Compression=no -o "ServerAliveInterval 30"`;
  const r = await runBasyn(
    ['-l', destination, '-r', source, '--host', sshd!.host, '--port', String(sshd!.port), '--user', user, `--rsh=${rsh}`, '-a', 'PULL', '-m', 'SYNC'],
    { env: plainEnv(), timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination));
  const args = (await readFile(wrapper.log, 'utf8')).split('\n');
  // The rsh's own words come first, each one argument, then basyn's, then -p, -l, the host.
  assert.deepEqual(args.slice(0, 4), ['-o', 'Compression=no', '-o', 'ServerAliveInterval 30']);
  const at = (word: string): number => args.indexOf(word);
  assert.equal(args[at('-p') + 1], String(sshd!.port));
  assert.equal(args[at('-l') + 1], user);
  assert.equal(args[at('--') + 1], sshd!.host);
  assert.ok(at('-p') < at('--') && at('-l') < at('--'));
});

test('-e whose program does not exist fails with exit 2 and a message naming it', { skip }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const missing = join(dir.path, 'no such dir', 'ssh');
  const r = await runBasyn(
    ['-l', source, '-r', destination, '-h', sshd!.host, '-p', String(sshd!.port), '-e', `${q(missing)} -o Compression=no`, '-a', 'PUSH', '-m', 'SYNC'],
    { env: plainEnv(), timeoutMs: 30_000 },
  );
  assert.equal(r.code, 2, describeRun(r));
  assert.ok(r.stderr.includes(missing), `the message names ${missing}: ${r.stderr}`);
  assert.match(r.stderr, /not found/);
  assert.doesNotMatch(r.stderr, /ENOENT|spawn/, 'no Node.js jargon in the message');
  assert.equal(await sha256File(destination), before);
});

test('-e without -h is a usage error (exit 1), nothing is opened', async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const r = await runBasyn(['-l', source, '-r', destination, '-e', 'ssh -o Compression=no', '-a', 'PUSH', '-m', 'COPY']);
  assert.equal(r.code, 1, describeRun(r));
  assert.match(r.stderr, /-e\/--rsh needs -h\/--host/);
  assert.equal(r.stdout, '');
  assert.equal(await sha256File(destination), before);
});

test('-e with an unterminated quote or nothing in it is a usage error (exit 1)', async () => {
  const { source, destination } = await pair();
  for (const rsh of [`ssh -i 'my key`, '   ']) {
    const r = await runBasyn(['-l', source, '-r', destination, '-h', '127.0.0.1', '-e', rsh, '-a', 'PUSH', '-m', 'COPY']);
    assert.equal(r.code, 1, `${JSON.stringify(rsh)}: ${describeRun(r)}`);
    assert.match(r.stderr, /unterminated|empty/);
  }
});
