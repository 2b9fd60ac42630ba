/**
 * Standard output or standard error that cannot be written (a full disk: /dev/full,
 * ENOSPC; a reader that went away: a pipe closed at once, EPIPE) is never an uncaught
 * exception or a stack trace. The run goes on to its end (the destination written and
 * equal to the source, the bitmap's lock file gone, the agent gone) and then:
 *
 * - stdout lost (the JSON document, the --stat line, --verbose lines, a dry run's list,
 *   --help, --version): exit 2, and one line on stderr saying so;
 * - stderr lost (progress, --verbose with --json, the error line): the run's own exit
 *   code; with --json the whole document still arrives on stdout;
 * - a usage error stays exit 1 even when its message cannot be written.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pidsWithFileOpen } from '../test-support/bitmap-files.js';
import { cmp, writeImage } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { waitUntil } from '../test-support/process-tree.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 8 * 1024 * 1024;

/** What a standard stream of basyn is: captured, /dev/full, or a pipe closed before basyn writes. */
type Output = 'captured' | 'full' | 'closed';

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runWith(args: string[], outputs: { stdout: Output; stderr: Output }): Promise<Ran> {
  const full = openSync('/dev/full', 'w');
  const stdio = (o: Output): 'pipe' | number => (o === 'full' ? full : 'pipe');
  const child = spawn(process.execPath, [BASYN_BIN, ...args], { stdio: ['ignore', stdio(outputs.stdout), stdio(outputs.stderr)] });
  closeSync(full);
  let stdout = '';
  let stderr = '';
  if (outputs.stdout === 'closed') child.stdout!.destroy();
  else child.stdout?.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  if (outputs.stderr === 'closed') child.stderr!.destroy();
  else child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function describe(r: Ran): string {
  return `exit ${r.code}${r.signal !== null ? ` (${r.signal})` : ''}; stdout ${JSON.stringify(r.stdout.slice(-400))}; stderr ${JSON.stringify(r.stderr.slice(-1200))}`;
}

let dir: { path: string; remove(): Promise<void> };
let source: string;
let stale: string;
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-unwritable-output-');
  source = join(dir.path, 'source.img');
  stale = join(dir.path, 'stale.img');
  await writeImage(source, SIZE, 11);
  await writeImage(stale, SIZE, 12);
});
after(async () => dir.remove());

/** A destination that differs from the source everywhere, its bitmap, and the run's arguments. */
async function freshPair(extra: string[]): Promise<{ destination: string; bitmap: string; args: string[] }> {
  n++;
  const destination = join(dir.path, `destination-${n}.img`);
  const bitmap = join(dir.path, `destination-${n}.bitmap`);
  await copyFile(stale, destination);
  return { destination, bitmap, args: ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, ...LOCAL_AGENT.args, ...extra] };
}

/** The run finished its work cleanly: destination right, no lock file, nothing holding the destination. */
async function assertCleanEnd(destination: string, bitmap: string, r: Ran): Promise<void> {
  assert.ok(await cmp(source, destination), `the destination differs from the source: ${describe(r)}`);
  assert.equal(existsSync(`${bitmap}.lock`), false, `${bitmap}.lock was left behind`);
  assert.ok(existsSync(bitmap), 'the bitmap was not written');
  await waitUntil(() => pidsWithFileOpen(destination, [process.pid]).length === 0, 5000, 'the agent to let go of the destination');
}

function assertNoStackTrace(r: Ran): void {
  assert.doesNotMatch(r.stderr, /^ {4}at |Error:|node:internal/m, `stack trace or raw error: ${describe(r)}`);
}

const STDOUT_LOST = /^basyn: cannot write to standard output: (no space left on device \(ENOSPC\)|its reader has gone \(EPIPE\)); the output is incomplete/m;

for (const [option, what] of [['--json', 'the JSON document'], ['--stat', 'the --stat line']] as const) {
  test(`${option} with stdout on a full disk: the run completes and cleans up, exit 2 and one line saying ${what} was lost`, async () => {
    const { destination, bitmap, args } = await freshPair([option]);
    const r = await runWith(args, { stdout: 'full', stderr: 'captured' });
    assert.equal(r.code, 2, describe(r));
    assertNoStackTrace(r);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, describe(r));
    assert.match(lines[0]!, STDOUT_LOST);
    assert.match(lines[0]!, /ENOSPC.*; the run itself succeeded$/);
    await assertCleanEnd(destination, bitmap, r);
  });
}

test('--verbose with stdout a closed pipe: the run completes and cleans up, exit 2 and one line saying stdout was lost', async () => {
  const { destination, bitmap, args } = await freshPair(['--verbose']);
  const r = await runWith(args, { stdout: 'closed', stderr: 'captured' });
  assert.equal(r.code, 2, describe(r));
  assertNoStackTrace(r);
  assert.match(r.stderr, STDOUT_LOST);
  assert.match(r.stderr, /EPIPE/);
  await assertCleanEnd(destination, bitmap, r);
});

for (const stderr of ['full', 'closed'] as const) {
  const how = stderr === 'full' ? 'on a full disk' : 'a closed pipe';
  test(`--json --progress --verbose with stderr ${how}: the whole JSON document arrives on stdout and the exit code is the run's (0)`, async () => {
    const { destination, bitmap, args } = await freshPair(['--json', '--progress', '--verbose']);
    const r = await runWith(args, { stdout: 'captured', stderr });
    assert.equal(r.code, 0, describe(r));
    const report = JSON.parse(r.stdout) as { ok: boolean; exitCode: number };
    assert.equal(report.ok, true, r.stdout);
    assert.equal(report.exitCode, 0, r.stdout);
    await assertCleanEnd(destination, bitmap, r);
  });
}

test('--progress with stderr a closed pipe and a failing run: still exit 2, no crash', async () => {
  // The destination is smaller than the source: the run fails, and its error line is lost.
  const small = join(dir.path, 'small.img');
  await writeImage(small, SIZE / 2, 13);
  const r = await runWith(['-l', source, '-r', small, '-a', 'PUSH', '-m', 'SYNC', '--progress', ...LOCAL_AGENT.args], { stdout: 'captured', stderr: 'closed' });
  assert.equal(r.code, 2, describe(r));
  assert.equal(r.stdout, '');
});

test('a dry run whose list of differences goes to a closed pipe: exit 2, no stack trace, nothing written, no agent left', async () => {
  const { destination, args } = await freshPair(['--buffer', '4', '--dry-run']);
  const r = await runWith(args.filter((a, i) => a !== '-b' && args[i - 1] !== '-b'), { stdout: 'closed', stderr: 'captured' });
  assert.equal(r.code, 2, describe(r));
  assertNoStackTrace(r);
  assert.match(r.stderr, /^basyn: dry run: \d+ of \d+ blocks differ/m, describe(r));
  assert.match(r.stderr, STDOUT_LOST, describe(r));
  assert.ok(await cmp(stale, destination), 'a dry run wrote the destination');
  await waitUntil(() => pidsWithFileOpen(destination, [process.pid]).length === 0, 5000, 'the agent to let go of the destination');
});

for (const [option, stream] of [['--help', 'stdout'], ['--version', 'stdout']] as const) {
  test(`${option} with ${stream} on a full disk: exit 2, not 0`, async () => {
    const r = await runWith([option], { stdout: 'full', stderr: 'captured' });
    assert.equal(r.code, 2, describe(r));
    assertNoStackTrace(r);
    assert.match(r.stderr, STDOUT_LOST);
  });
}

test('a usage error whose message cannot be written (stderr on a full disk) still exits 1', async () => {
  const r = await runWith(['--no-such-option'], { stdout: 'captured', stderr: 'full' });
  assert.equal(r.code, 1, describe(r));
  assert.equal(r.stdout, '');
});

for (const stdout of ['full', 'closed'] as const) {
  test(`--write-delta=- with stdout ${stdout === 'full' ? 'on a full disk' : 'a closed pipe'}: exit 2, one line, the bitmap does not advance, no lock left`, async () => {
    n++;
    const bitmap = join(dir.path, `delta-${n}.bitmap`);
    const r = await runWith(['-l', source, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--write-delta=-'], { stdout, stderr: 'captured' });
    assert.equal(r.code, 2, describe(r));
    assertNoStackTrace(r);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, describe(r));
    assert.match(lines[0]!, /^basyn: cannot write delta -: (ENOSPC|EPIPE)/);
    assert.equal(existsSync(`${bitmap}.lock`), false, `${bitmap}.lock was left behind`);
    // The next delta still holds every block: the failed one advanced nothing.
    const again = await runWith(['-l', source, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', `--write-delta=${bitmap}.delta`, '--json'], { stdout: 'captured', stderr: 'captured' });
    assert.equal(again.code, 0, describe(again));
    assert.equal((JSON.parse(again.stdout) as { delta: { dataBytes: number } }).delta.dataBytes, SIZE);
  });
}
