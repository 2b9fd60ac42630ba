/**
 * An option that only makes sense with a remote device (-h, -p, -u, -e, --sudo,
 * --remote-node) given without -r is a usage error. Without -r a bitmap PUSH writes
 * only the bitmap; taking `-b ... -h HOST` without -r as such a run made the bitmap
 * claim blocks the host never received, and the next real run skipped them.
 */
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 512 * 1024 + 5;

let dir: { path: string; remove(): Promise<void> };
let source: string;
let destination: string;

before(async () => {
  dir = await makeTempDir('basyn-remote-options-');
  source = join(dir.path, 'source.img');
  destination = join(dir.path, 'destination.img');
  await writeImage(source, SIZE, 1);
  await writeImage(destination, SIZE, 2);
});
after(async () => dir.remove());

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

async function refused(args: string[], mentions: RegExp[]): Promise<void> {
  const files = (await readdir(dir.path)).sort();
  const sums = [await sha256File(source), await sha256File(destination)];
  const r = await runBasyn(args);
  assert.equal(r.code, 1, describeRun(r));
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  for (const m of mentions) assert.match(lines[0]!, m);
  assert.deepEqual([await sha256File(source), await sha256File(destination)], sums, 'a device changed');
  assert.deepEqual((await readdir(dir.path)).sort(), files, 'a file appeared (the bitmap?)');
}

test('the issue: -b with -h but no -r exits 1 and creates no bitmap', async () => {
  const bitmap = join(dir.path, 'meant-for-the-host.bitmap');
  await refused(['-l', source, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '-h', '127.0.0.1'], [/-h\/--host/, /-r\/--remote/, /only update the bitmap/]);
  assert.equal(await exists(bitmap), false);
});

test('the issue, second run: an existing bitmap keeps its bytes when -h comes without -r', async () => {
  const bitmap = join(dir.path, 'existing.bitmap');
  const made = await runBasyn(['-l', source, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap]);
  assert.equal(made.code, 0, describeRun(made));
  const before = await sha256File(bitmap);
  await writeImage(source, SIZE, 3);
  await refused(['-l', source, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--host', '127.0.0.1', '--port', '2222'], [/-h\/--host/]);
  assert.equal(await sha256File(bitmap), before, 'the bitmap changed');
});

for (const [name, extra] of [
  ['-h', ['-h', '127.0.0.1']],
  ['-p', ['-p', '2222']],
  ['-u', ['-u', 'backup']],
  ['-e', ['-e', 'ssh -C']],
  ['--sudo', ['--sudo']],
  ['--remote-node', ['--remote-node', process.execPath]],
] as const) {
  test(`${name} without -r is a usage error naming ${name} and -r (bitmap PUSH)`, async () => {
    const bitmap = join(dir.path, `with${name}.bitmap`);
    await refused(['-l', source, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, ...extra], [new RegExp(`[ /]${name}\\b`), /-r\/--remote is not given/]);
  });
}

test('-p with -r but without -h is a usage error: there is no ssh to give the port to', async () => {
  await refused(['-l', source, '-r', destination, '-p', '2222', '-a', 'PUSH', '-m', 'COPY'], [/-p\/--port needs -h\/--host/]);
});
