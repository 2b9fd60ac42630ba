/**
 * The accepted spellings of the command line (--opt=value, --opt value, -o value,
 * -ovalue; names in any case), --help and --version, and a run without an action.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cmp, sha256File, writeImage } from '../test-support/images.js';
import { REPO_ROOT } from '../test-support/paths.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const SIZE = 300 * 1024 + 3;

const dir = tempDirForFile();
let n = 0;

async function pair(): Promise<{ a: string; b: string }> {
  n++;
  const a = join(dir.path, `a${n}.img`);
  const b = join(dir.path, `b${n}.img`);
  await writeImage(a, SIZE, n);
  await writeImage(b, SIZE, 100 + n);
  return { a, b };
}

describe('option spellings', () => {
  const spellings: { name: string; args: (a: string, b: string) => string[] }[] = [
    { name: '--opt=value', args: (a, b) => [`--local=${a}`, `--remote=${b}`, '--action=PUSH', '--mode=SYNC', '--buffer=64', '--hash=MD5'] },
    { name: '--opt value', args: (a, b) => ['--local', a, '--remote', b, '--action', 'PUSH', '--mode', 'SYNC', '--buffer', '64', '--hash', 'MD5'] },
    { name: '-o value', args: (a, b) => ['-l', a, '-r', b, '-a', 'PUSH', '-m', 'SYNC'] },
    { name: '-ovalue', args: (a, b) => [`-l${a}`, `-r${b}`, '-aPUSH', '-mSYNC'] },
    { name: 'lower-case names', args: (a, b) => ['-l', a, '-r', b, '-a', 'push', '-m', 'sync', '--hash=sha256'] },
    { name: 'mixed-case names', args: (a, b) => ['-l', a, '-r', b, '-a', 'Push', '-m', 'Copy', '--hash=Blake2s'] },
  ];
  for (const s of spellings) {
    test(`${s.name} is understood`, async () => {
      const { a, b } = await pair();
      const r = await runBasyn(s.args(a, b));
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(a, b), 'cmp: devices differ');
    });
  }
});

describe('--help and --version', () => {
  test('--help prints every option and exits 0', async () => {
    const r = await runBasyn(['--help']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stderr, '');
    for (const o of ['--local', '--remote', '--host', '--port', '--user', '--action', '--mode', '--recheck', '--stat', '--verbose',
      '--progress', '--debug', '--hash', '--buffer', '--chunk', '--zlevel', '--bitmap', '--reset-bitmap', '--update-bitmap', '--help', '--version']) {
      assert.ok(r.stdout.includes(o), `--help does not mention ${o}`);
    }
    for (const h of ['SHA1', 'SHA224', 'SHA256', 'SHA384', 'SHA512', 'BLAKE2B', 'BLAKE2S', 'MD5']) assert.ok(r.stdout.includes(h), `--help does not list ${h}`);
  });

  test('--help wins over other options and touches nothing', async () => {
    const { a, b } = await pair();
    const [ha, hb] = [await sha256File(a), await sha256File(b)];
    const r = await runBasyn(['-l', a, '-r', b, '-a', 'PUSH', '-m', 'COPY', '--help']);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /Usage/);
    assert.equal(await sha256File(a), ha);
    assert.equal(await sha256File(b), hb);
  });

  test('--version prints the package version and the node running it, and exits 0', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runBasyn(['--version']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stdout, `basyn ${pkg.version} node ${process.version}\n`);
  });

  test('-h alone is the host option missing its value, not help', async () => {
    const r = await runBasyn(['-h']);
    assert.equal(r.code, 1, describeRun(r));
    assert.match(r.stderr, /-h/);
    assert.match(r.stderr, /--help/);
    assert.equal(r.stdout, '');
  });
});

describe('no action', () => {
  test('only opens both devices, exits 0 and writes nothing', async () => {
    const { a, b } = await pair();
    const [ha, hb] = [await sha256File(a), await sha256File(b)];
    const r = await runBasyn(['-l', a, '-r', b, '--verbose']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await sha256File(a), ha);
    assert.equal(await sha256File(b), hb);
  });

  test('equal devices stay equal', async () => {
    const { a, b } = await pair();
    await copyFile(a, b);
    const r = await runBasyn(['-l', a, '-r', b]);
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(await cmp(a, b));
  });
});
