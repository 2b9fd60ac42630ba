/**
 * A port or user inside -e/--rsh together with -p or -u. ssh keeps the first value it
 * is given and basyn's -p/-l follow the words of -e, so the words inside -e used to
 * win silently while --help said -p and -u still applied. Now giving a port (or a
 * user) both ways is a usage error; given once, either way works.
 */
import assert from 'node:assert/strict';
import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cmp, imagePair, sha256File, type ImagePair } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { runPlaces } from '../test-support/run-places.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { sshPortAndUserIn } from './ssh-command-words.js';
import { quoteName } from '../report/quote.js';

const SIZE = 1024 * 1024 + 17;
const ssh = (await runPlaces())[1]!;
const skip = ssh.skip ?? false;
const sshd = ssh.sshd;

let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-rsh-once-');
});
after(async () => {
  await dir?.remove();
});

async function pair(): Promise<ImagePair> {
  n++;
  return imagePair(dir.path, `p${n}`, SIZE, n, 'all');
}

const q = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

describe('the port and user ssh would take from the words of -e', () => {
  const cases: [string[], { port?: string; user?: string }][] = [
    [['ssh', '-p', '2222', '-l', 'bob'], { port: '-p 2222', user: '-l bob' }],
    [['ssh', '-p2222', '-lbob'], { port: '-p2222', user: '-lbob' }],
    [['/usr/bin/ssh', '-Cp', '2222'], { port: '-p 2222' }],
    [['ssh', '-o', 'Port=2222', '-oUser=bob'], { port: '-o Port=2222', user: '-oUser=bob' }],
    [['ssh', '-o', 'port 2222'], { port: '-o port 2222' }],
    // The value of another option is not an option: -i's file is "-p".
    [['ssh', '-i', '-p', '-c', 'aes128-gcm@openssh.com'], {}],
    [['ssh', '-o', 'ProxyJump=jump', '-o', 'ServerAliveInterval 30'], {}],
    // A wrapper's own options are its own; ssh's come after the word that names it.
    [['sshpass', '-p', 'secret', 'ssh', '-o', 'Compression=no'], {}],
    [['sshpass', '-p', 'secret', 'ssh', '-p', '2222'], { port: '-p 2222' }],
    // A program that is not ssh: basyn can't know what its options mean.
    [['my-ssh-wrapper', '-p', '2222'], {}],
  ];
  for (const [words, found] of cases) {
    test(JSON.stringify(words), () => assert.deepEqual(sshPortAndUserIn(words), found));
  }
});

/** A program named ssh that only records that it was started. */
async function recordingSsh(): Promise<{ path: string; ran: () => Promise<boolean> }> {
  const folder = join(dir.path, `bin${++n}`);
  await mkdir(folder);
  const path = join(folder, 'ssh');
  const log = join(folder, 'ran');
  await writeFile(path, `#!/bin/sh\necho "$@" > ${q(log)}\nexit 255\n`);
  await chmod(path, 0o755);
  return { path, ran: () => access(log).then(() => true, () => false) };
}

for (const [what, inside, given] of [
  ['-p 2222 inside -e and -p 22', '-p 2222', ['-p', '22']],
  ['-o Port=2222 inside -e and --port=22', '-o Port=2222', ['--port=22']],
  ['-l bob inside -e and -u alice', '-l bob', ['-u', 'alice']],
  ['-oUser=bob inside -e and --user alice', '-oUser=bob', ['--user', 'alice']],
] as const) {
  test(`${what}: exit 1 before ssh is started, naming both`, async () => {
    const { source, destination } = await pair();
    const before = await sha256File(destination);
    const ssh = await recordingSsh();
    const r = await runBasyn(['-l', source, '-r', destination, '-h', 'backup.example', ...given, '-e', `${q(ssh.path)} ${inside}`, '-a', 'PUSH', '-m', 'COPY']);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stderr, /(-p\/--port|-u\/--user) can't be combined with a (port|user) inside -e\/--rsh/);
    assert.ok(r.stderr.includes(`has ${quoteName(inside)})`), `the line shows ${inside}: ${r.stderr}`);
    assert.equal(await ssh.ran(), false, 'ssh was started');
    assert.equal(await sha256File(destination), before);
  });
}

test('a port inside -e and -p: exit 1 naming both, nothing written (over ssh, the port in -e would have won)', { skip }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const r = await runBasyn(
    ['-l', source, '-r', destination, '-h', sshd!.host, '-p', '1', '-e', `${q(sshd!.ssh)} -p ${sshd!.port}`, '-a', 'PUSH', '-m', 'COPY'],
    { env: sshd!.env, timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1, describeRun(r));
  assert.match(r.stderr, /^basyn: -p\/--port can't be combined with a port inside -e\/--rsh; give the port once \(-e\/--rsh has "-p \d+"\)/);
  assert.equal(await sha256File(destination), before);
});

test('-o Port= inside -e and --port: exit 1', { skip }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const r = await runBasyn(
    ['-l', source, '-r', destination, '-h', sshd!.host, '--port', String(sshd!.port), '-e', `${q(sshd!.ssh)} -o Port=${sshd!.port}`, '-a', 'PUSH', '-m', 'COPY'],
    { env: sshd!.env, timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1, describeRun(r));
  assert.match(r.stderr, /-p\/--port can't be combined with a port inside -e\/--rsh/);
  assert.equal(await sha256File(destination), before);
});

test('a user inside -e and -u: exit 1, nothing written', { skip }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const user = userInfo().username;
  const r = await runBasyn(
    ['-l', source, '-r', destination, '-h', sshd!.host, '-p', String(sshd!.port), '-u', 'nobody', '-e', `${q(sshd!.ssh)} -l ${user}`, '-a', 'PUSH', '-m', 'COPY'],
    { env: sshd!.env, timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1, describeRun(r));
  assert.match(r.stderr, /^basyn: -u\/--user can't be combined with a user inside -e\/--rsh; give the user once \(-e\/--rsh has "-l /);
  assert.equal(await sha256File(destination), before);
});

test('the port and user given once, inside -e, are used (PUSH SYNC over ssh)', { skip }, async () => {
  const { source, destination } = await pair();
  const user = userInfo().username;
  const r = await runBasyn(
    ['-l', source, '-r', destination, '-h', sshd!.host, '-e', `${q(sshd!.ssh)} -p ${sshd!.port} -l ${user}`, '-a', 'PUSH', '-m', 'SYNC'],
    { env: sshd!.env, timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination));
});

test('the user given once, as -h USER@HOST, is used (PUSH SYNC over ssh)', { skip }, async () => {
  const { source, destination } = await pair();
  const user = userInfo().username;
  const r = await runBasyn(
    ['-l', source, '-r', destination, '-h', `${user}@${sshd!.host}`, '-p', String(sshd!.port), '-a', 'PUSH', '-m', 'SYNC'],
    { env: sshd!.env, timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination));
});

test('-h USER@HOST and -u over ssh: exit 1 before ssh starts, nothing written (ssh would take -u and drop USER)', { skip }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const user = userInfo().username;
  const r = await runBasyn(
    ['-l', source, '-r', destination, '-h', `${user}@${sshd!.host}`, '-p', String(sshd!.port), '-u', 'nobody', '-a', 'PUSH', '-m', 'COPY'],
    { env: sshd!.env, timeoutMs: 30_000 },
  );
  assert.equal(r.code, 1, describeRun(r));
  assert.match(r.stderr, /^basyn: -h\/--host USER@HOST can't be combined with -u\/--user or a user inside -e\/--rsh; give the user once/);
  assert.equal(await sha256File(destination), before);
});
