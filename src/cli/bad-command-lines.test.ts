/**
 * A table of bad command lines: every usage error of the core issue, odd values,
 * empty strings, repeated options, options after `--`, unknown short flags, hostile
 * hosts. Each must exit 1 with one line that names the problem and points to --help,
 * and must touch nothing: both devices and the bitmap keep their checksums, and no file
 * appears in their folder (nor the file a hostile ProxyCommand would create).
 */
import assert from 'node:assert/strict';
import { access, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256File, writeImage } from '../test-support/images.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

let dir: { path: string; remove(): Promise<void> };
let A: string;
let B: string;
let BM: string;
let PWNED: string;
let before_: Map<string, string>;
let filesBefore: string[];

before(async () => {
  dir = await makeTempDir('basyn-badargs-');
  A = join(dir.path, 'a.img');
  B = join(dir.path, 'b.img');
  BM = join(dir.path, 'a.bitmap');
  PWNED = join(dir.path, 'pwned');
  await writeImage(A, 1024 * 1024, 1);
  await writeImage(B, 1024 * 1024, 2);
  await writeFile(BM, Buffer.from('not really a bitmap, but it must not change'));
  before_ = new Map([[A, await sha256File(A)], [B, await sha256File(B)], [BM, await sha256File(BM)]]);
  filesBefore = (await readdir(dir.path)).sort();
});
after(async () => dir.remove());

/** Each row: a description and the argv (built lazily, once the paths exist). */
const ROWS: [string, () => string[]][] = [
  ['no arguments at all', () => []],
  ['an unknown long option', () => ['-l', A, '-r', B, '--bogus']],
  ['an unknown short option', () => ['-l', A, '-r', B, '-x']],
  ['an unknown short option with a value', () => ['-Z', 'x', '-l', A, '-r', B]],
  ['an unknown short option glued to a value', () => ['-l', A, '-r', B, '-qfoo']],
  ['a missing value at the end (-a)', () => ['-l', A, '-r', B, '-a']],
  ['a missing value at the end (--mode)', () => ['-l', A, '-r', B, '-a', 'PUSH', '--mode']],
  ['an action without a mode', () => ['-l', A, '-r', B, '-a', 'PUSH']],
  ['a mode without an action', () => ['-l', A, '-r', B, '-m', 'SYNC']],
  ['an unknown action', () => ['-l', A, '-r', B, '-a', 'SIDEWAYS', '-m', 'SYNC']],
  ['an unknown mode', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'MIRROR']],
  ['an unknown hash', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--hash=SHA3']],
  ['-l missing', () => ['-r', B, '-a', 'PUSH', '-m', 'SYNC']],
  ['-r missing', () => ['-l', A, '-a', 'PUSH', '-m', 'SYNC']],
  ['-u without -h', () => ['-l', A, '-r', B, '-u', 'root', '-a', 'PUSH', '-m', 'SYNC']],
  ['--chunk larger than --buffer', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--chunk', '128']],
  ['--buffer 0', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '0']],
  ['--buffer negative', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '-5']],
  ['--buffer not a number', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer', 'abc']],
  ['--buffer=1.5', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer=1.5']],
  ['--buffer=99999999999', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer=99999999999']],
  ['--buffer over 1 GiB (1048577 KiB)', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer=1048577']],
  ['--buffer in hex', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer=0x10']],
  ['--buffer 1e3', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer=1e3']],
  ['--chunk 0', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--chunk', '0']],
  ['--chunk=-1', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--chunk=-1']],
  ['--zlevel=10', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'COPY', '--zlevel=10']],
  ['--zlevel=-1', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'COPY', '--zlevel=-1']],
  ['--zlevel nine', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'COPY', '--zlevel', 'nine']],
  ['--zlevel empty', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'COPY', '--zlevel=']],
  ['-p 0', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-p', '0', '-a', 'PUSH', '-m', 'SYNC']],
  ['-p 70000', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-p', '70000', '-a', 'PUSH', '-m', 'SYNC']],
  ['-p 65536', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-p65536', '-a', 'PUSH', '-m', 'SYNC']],
  ['-p not a number', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-p', 'ssh', '-a', 'PUSH', '-m', 'SYNC']],
  ['-p empty', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-p', '', '-a', 'PUSH', '-m', 'SYNC']],
  ['-p with a space', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-p', ' 22', '-a', 'PUSH', '-m', 'SYNC']],
  ['-b without SYNC', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'COPY', '-b', BM]],
  ['--reset-bitmap without -b', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--reset-bitmap']],
  ['--update-bitmap without -b', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--update-bitmap']],
  ['--reset-bitmap with --update-bitmap', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '-b', BM, '--reset-bitmap', '--update-bitmap']],
  ['--no-bitmap-check without -b', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--no-bitmap-check']],
  ['--dry-run with COPY', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'COPY', '--dry-run']],
  ['--dry-run with --reset-bitmap', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '-b', BM, '--dry-run', '--reset-bitmap']],
  ['--create without an action', () => ['-l', A, '-r', B, '--create']],
  ['--recheck without -r', () => ['-l', A, '--recheck', '-b', BM, '-a', 'PUSH', '-m', 'SYNC']],
  ['an empty -l', () => ['-l', '', '-r', B, '-a', 'PUSH', '-m', 'SYNC']],
  ['an empty -r', () => ['-l', A, '-r', '', '-a', 'PUSH', '-m', 'SYNC']],
  ['an empty --remote=', () => ['-l', A, '--remote=', '-a', 'PUSH', '-m', 'SYNC']],
  ['an empty -h', () => ['-l', A, '-r', B, '-h', '', '-a', 'PUSH', '-m', 'SYNC']],
  ['an empty --hash', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--hash', '']],
  ['an empty -a', () => ['-l', A, '-r', B, '-a', '', '-m', 'SYNC']],
  ['an empty -b', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '-b', '']],
  ['an empty -e', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-e', '', '-a', 'PUSH', '-m', 'SYNC']],
  ['-e with an unterminated quote', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-e', "ssh -i 'key", '-a', 'PUSH', '-m', 'SYNC']],
  ['-e without -h', () => ['-l', A, '-r', B, '-e', 'ssh', '-a', 'PUSH', '-m', 'SYNC']],
  ['an empty --remote-node', () => ['-l', A, '-r', B, '--remote-node=', '-a', 'PUSH', '-m', 'SYNC']],
  ['-l given twice', () => ['-l', A, '-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC']],
  ['-r and --remote both given', () => ['-l', A, '-r', B, '--remote', B, '-a', 'PUSH', '-m', 'SYNC']],
  ['--buffer given twice', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--buffer=64']],
  ['--recheck given twice', () => ['-l', A, '-r', B, '--recheck', '--recheck']],
  ['an option after --', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--', '--recheck']],
  ['a device after --', () => ['-l', A, '-a', 'PUSH', '-m', 'SYNC', '--', '-r', B]],
  ['a stray positional argument', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', 'extra']],
  ['a lone -', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '-']],
  ['a flag given a value (--recheck=yes)', () => ['-l', A, '-r', B, '--recheck=yes']],
  ['a flag given a value (--stat=1)', () => ['-l', A, '-r', B, '-a', 'PUSH', '-m', 'SYNC', '--stat=1']],
  ['a host beginning with - (ProxyCommand)', () => ['-l', A, '-r', B, '-h', `-oProxyCommand=touch ${PWNED}`, '-a', 'PUSH', '-m', 'SYNC']],
  ['a host beginning with - (glued to -h)', () => ['-l', A, '-r', B, `-h-oProxyCommand=touch ${PWNED}`, '-a', 'PUSH', '-m', 'SYNC']],
  ['a host beginning with - (--host=)', () => ['-l', A, '-r', B, `--host=-oProxyCommand=touch ${PWNED}`, '-a', 'PUSH', '-m', 'SYNC']],
  ['a host with white space', () => ['-l', A, '-r', B, '-h', 'good.example bad', '-a', 'PUSH', '-m', 'SYNC']],
  ['a host with a newline', () => ['-l', A, '-r', B, '-h', 'host\n-oProxyCommand=x', '-a', 'PUSH', '-m', 'SYNC']],
  ['a user beginning with -', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-u', `-oProxyCommand=touch ${PWNED}`, '-a', 'PUSH', '-m', 'SYNC']],
  ['a user with @', () => ['-l', A, '-r', B, '-h', '127.0.0.1', '-u', 'root@evil', '-a', 'PUSH', '-m', 'SYNC']],
  ['lower-case garbage as the action', () => ['-l', A, '-r', B, '-a', 'push;rm', '-m', 'SYNC']],
];

test(`${ROWS.length} bad command lines each exit 1 with one line pointing to --help and touch nothing`, async (t) => {
  assert.ok(ROWS.length >= 40);
  const results: string[] = [];
  // Four at a time: each is a node start-up, nothing more.
  for (let i = 0; i < ROWS.length; i += 4) {
    await Promise.all(
      ROWS.slice(i, i + 4).map(async ([name, argv]) => {
        const r = await runBasyn(argv(), { timeoutMs: 20_000 });
        const lines = r.stderr.split('\n').filter((l) => l !== '');
        const ok = r.code === 1 && lines.length === 1 && /^basyn: .*--help/.test(lines[0]!) && r.stdout === '';
        results.push(`${ok ? 'ok  ' : 'FAIL'} ${name}: exit ${r.code}, ${JSON.stringify(r.stderr.trim())}${r.stdout !== '' ? `, stdout ${JSON.stringify(r.stdout)}` : ''}`);
      }),
    );
  }
  for (const line of results) t.diagnostic(line);
  assert.deepEqual(results.filter((l) => l.startsWith('FAIL')), []);
  for (const [file, sha] of before_) assert.equal(await sha256File(file), sha, `${file} changed`);
  assert.deepEqual((await readdir(dir.path)).sort(), filesBefore, 'a file appeared or vanished');
  await assert.rejects(access(PWNED), 'the ProxyCommand ran');
});
