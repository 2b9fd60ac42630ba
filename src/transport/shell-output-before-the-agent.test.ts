/**
 * A remote login shell may print on stdout before it runs the agent (a banner in
 * ~/.bashrc). The bootstrap's start marker lets the client skip that text (shown with
 * --debug) and sync as usual; a remote side that never starts the agent fails with one
 * line showing what came instead and pointing at the shell's start-up files.
 * End to end over the test sshd, with an -e wrapper that puts commands in front of
 * basyn's remote command, exactly where a shell's start-up file would run them.
 */
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { cmp, imagePair, sha256File, type ImagePair } from '../test-support/images.js';
import { describeRun, runPlaces } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { BORROWED_CHUNK } from '../protocol/channel.js';
import { ProtocolStart, START_MARKER } from './protocol-start.js';

const SIZE = 2 * 1024 * 1024 + 4096;
const ssh = (await runPlaces())[1]!;
const skip = ssh.skip ?? false;
const sshd = ssh.sshd;

/** Read as a frame header, "Welc" is a length of 1466264675: what a banner used to cause. */
const BANNER = 'Welcome to the backup host!\n\tToday: caf\u00e9 \x1b[1mbold\x1b[0m \\ "quoted"\n';

let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-banner-');
});
after(async () => {
  await dir?.remove();
});

function q(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** An -e program: the fixture's ssh, with `prefix` run by the remote shell before basyn's command. */
async function sshRunningFirst(prefix: string): Promise<string> {
  n++;
  const path = join(dir.path, `ssh-with-prefix-${n}`);
  // The last argument is the remote command; every other one is passed on unchanged.
  await writeFile(path, [
    '#!/bin/sh',
    'last=$#; i=0',
    'for a in "$@"; do',
    '  i=$((i+1))',
    `  if [ $i -eq $last ]; then set -- "$@" ${q(prefix)}"$a"; else set -- "$@" "$a"; fi`,
    'done',
    'shift $last',
    `exec ${q(sshd!.ssh)} "$@"`,
    '',
  ].join('\n'));
  await chmod(path, 0o755);
  return path;
}

async function pair(): Promise<ImagePair> {
  n++;
  return imagePair(dir.path, `p${n}`, SIZE, 10 + n, 'all');
}

for (const action of ['PUSH', 'PULL'] as const) {
  test(`a banner printed by the remote shell is skipped and the ${action} SYNC works; --debug shows it escaped`, { skip, timeout: 60_000 }, async () => {
    const { source, destination } = await pair();
    const rsh = await sshRunningFirst(`printf '%s' ${q(BANNER)}; `);
    const [local, remote] = action === 'PUSH' ? [source, destination] : [destination, source];
    const r = await runBasyn(
      ['-l', local, '-r', remote, '-h', sshd!.host, '-p', String(sshd!.port), '-e', q(rsh), '-a', action, '-m', 'SYNC', '--debug'],
      { timeoutMs: 50_000 },
    );
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(await cmp(source, destination), 'destination equals source');
    const shown = `"Welcome to the backup host!\\n\\tToday: caf\u00e9 \\x1b[1mbold\\x1b[0m \\\\ \\"quoted\\"\\n"`;
    assert.ok(r.stderr.includes(`skipped ${Buffer.byteLength(BANNER)} bytes`), describeRun(r));
    assert.ok(r.stderr.includes(shown), `the banner, escaped, in --debug: ${r.stderr}`);
  });
}

test('without --debug the banner is not shown at all', { skip, timeout: 60_000 }, async () => {
  const { source, destination } = await pair();
  const rsh = await sshRunningFirst(`printf '%s' ${q(BANNER)}; `);
  const r = await runBasyn(['-l', source, '-r', destination, '-h', sshd!.host, '-p', String(sshd!.port), '-e', q(rsh), '-a', 'PUSH', '-m', 'COPY'], { timeoutMs: 50_000 });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination));
  assert.equal(r.stderr, '');
  assert.doesNotMatch(r.stdout, /Welcome/);
});

test('a remote shell that prints and never starts the agent: exit 2, one line with its first line and the start-up files', { skip, timeout: 60_000 }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const rsh = await sshRunningFirst(`printf 'stty: not a tty\\nmore\\n'; exit 0; `);
  const r = await runBasyn(['-l', source, '-r', destination, '-h', sshd!.host, '-p', String(sshd!.port), '-e', q(rsh), '-a', 'PUSH', '-m', 'SYNC'], { timeoutMs: 50_000 });
  assert.equal(r.code, 2, describeRun(r));
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, /did not start/);
  assert.ok(lines[0]!.includes('"stty: not a tty\\n"'), `the first line received, escaped: ${lines[0]}`);
  assert.match(lines[0]!, /is the remote shell clean\?.*start-up files/);
  assert.doesNotMatch(lines[0]!, /frame length/);
  assert.equal(await sha256File(destination), before, 'destination untouched');
});

test('a remote side that prints more than 64 KiB without starting the agent fails at once, not after the handshake timeout', { skip, timeout: 60_000 }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const rsh = await sshRunningFirst(`head -c 200000 /dev/zero | tr '\\0' x; exec sleep 25; `);
  const started = Date.now();
  const r = await runBasyn(['-l', source, '-r', destination, '-h', sshd!.host, '-p', String(sshd!.port), '-e', q(rsh), '-a', 'PUSH', '-m', 'SYNC'], { timeoutMs: 50_000 });
  assert.equal(r.code, 2, describeRun(r));
  assert.ok(Date.now() - started < 20_000, `ended after ${Date.now() - started} ms, before the remote sleep ended`);
  assert.match(r.stderr, /did not start: .*"x{20}.*more than 65536 bytes without it/);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.equal(await sha256File(destination), before);
});

test('a remote shell that prints a little and then waits fails after 20 s of quiet, not after the 120 s handshake timeout', { skip, timeout: 90_000 }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const rsh = await sshRunningFirst(`printf 'Choose a menu item: '; exec sleep 70; `);
  const started = Date.now();
  const r = await runBasyn(['-l', source, '-r', destination, '-h', sshd!.host, '-p', String(sshd!.port), '-e', q(rsh), '-a', 'PUSH', '-m', 'SYNC'], { timeoutMs: 80_000 });
  assert.equal(r.code, 2, describeRun(r));
  assert.ok(Date.now() - started < 60_000, `ended after ${Date.now() - started} ms, before the remote sleep ended`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0]!.includes('"Choose a menu item: " (20 bytes, then nothing for 20 s)'), lines[0]);
  assert.match(lines[0]!, /is the remote shell clean\?.*start-up files/);
  assert.equal(await sha256File(destination), before);
});

test('through a local agent, a --remote-node wrapper that prints first works too', { timeout: 60_000 }, async () => {
  const { source, destination } = await pair();
  const node = join(dir.path, 'chatty-node');
  await writeFile(node, `#!/bin/sh\nprintf 'node wrapper says hi\\n'\nexec ${q(process.execPath)} "$@"\n`);
  await chmod(node, 0o755);
  const r = await runBasyn(['-l', source, '-r', destination, '--remote-node', node, '-a', 'PUSH', '-m', 'SYNC'], { timeoutMs: 50_000 });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination));
});

test('the marker is found when it arrives split across reads, and what follows it is passed on whole', async () => {
  const source = new PassThrough();
  const skipped: Buffer[] = [];
  const start = new ProtocolStart(source, { skipped: (b) => skipped.push(Buffer.from(b)) });
  const received: Buffer[] = [];
  start.input.on('data', (b: Buffer) => received.push(b));
  const ended = new Promise((resolve) => start.input.on('end', resolve));
  const whole = Buffer.concat([Buffer.from('banner\n'), START_MARKER, Buffer.from([0, 0, 0, 1, 0x1f, 9, 8, 7])]);
  for (const byte of whole) source.write(Buffer.from([byte]));
  source.end();
  await ended;
  assert.equal(start.state, 'started');
  assert.deepEqual(skipped, [Buffer.from('banner\n')]);
  assert.deepEqual(Buffer.concat(received), Buffer.from([0, 0, 0, 1, 0x1f, 9, 8, 7]));
});

test('borrowed chunks that come before anyone listens are kept, in order, and passed on as they come after', async () => {
  // A socket that reads into one reused buffer (reused-read-buffer.ts), whose reader (the
  // channel) is attached only once the run has opened its other device: the agent's
  // marker and HELLO may come first, and must not be lost or reordered.
  const source = new PassThrough();
  const start = new ProtocolStart(source);
  const reused = Buffer.alloc(64);
  const emitBorrowed = (bytes: Buffer): void => {
    bytes.copy(reused);
    source.emit(BORROWED_CHUNK, reused.subarray(0, bytes.length));
    reused.fill(0xee); // the next read lands here
  };
  const protocol = Buffer.from(Array.from({ length: 200 }, (_, i) => i & 0xff));
  const whole = Buffer.concat([Buffer.from('hi\n'), START_MARKER, protocol]);
  const early = 70;
  for (let at = 0; at < early; at += 7) emitBorrowed(whole.subarray(at, Math.min(at + 7, early)));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const received: Buffer[] = [];
  start.input.on('data', (b: Buffer) => received.push(Buffer.from(b)));
  start.input.on(BORROWED_CHUNK, (b: Buffer) => received.push(Buffer.from(b)));
  for (let at = early; at < whole.length; at += 9) {
    emitBorrowed(whole.subarray(at, Math.min(at + 9, whole.length)));
    if (at % 27 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(start.state, 'started');
  assert.deepEqual(Buffer.concat(received), protocol);
});
