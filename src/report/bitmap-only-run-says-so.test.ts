/**
 * A bitmap run without its destination writes no device, only the bitmap, which then
 * describes the source: a later run with the destination trusts it. basyn says so
 * every time, in one line on stderr (without --verbose), and in --json and the
 * library's result (`destination: null`, `bitmapOnly: true`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sync } from '../index.js';
import { sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { jsonOf } from '../test-support/run-places.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 300 * 1024 + 9;

let dir: { path: string; remove(): Promise<void> };
let source: string;
let destination: string;

before(async () => {
  dir = await makeTempDir('basyn-bitmap-only-');
  source = join(dir.path, 'source.img');
  destination = join(dir.path, 'destination.img');
  await writeImage(source, SIZE, 1);
  await writeImage(destination, SIZE, 2);
});
after(async () => dir.remove());

test('a bitmap-only PUSH says on stderr, in one line and without --verbose, that no destination was written', async () => {
  const bitmap = join(dir.path, 'push.bitmap');
  const r = await runBasyn(['-l', source, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', '64']);
  assert.equal(r.code, 0, describeRun(r));
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `basyn: bitmap only (no -r): no destination was written; the bitmap ${bitmap} now describes the source ${source}\n`);
});

test('a bitmap-only PULL with --json: the line on stderr, destination null and bitmapOnly true in the object', async () => {
  const bitmap = join(dir.path, 'pull.bitmap');
  const r = await runBasyn(['-r', source, '-a', 'PULL', '-m', 'SYNC', '-b', bitmap, '--buffer', '64', '--json']);
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stderr, /^basyn: bitmap only \(no -l\): no destination was written; the bitmap .* now describes the source /);
  const json = jsonOf(r);
  assert.equal(json.destination, null);
  assert.equal(json.bitmapOnly, true);
  assert.equal(json.local.path, null);
});

test('a bitmap run with its destination says nothing of the kind: destination "remote", bitmapOnly false', async () => {
  const bitmap = join(dir.path, 'full.bitmap');
  const before = await sha256File(destination);
  const r = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', '64', '--json']);
  assert.equal(r.code, 0, describeRun(r));
  assert.equal(r.stderr, '');
  const json = jsonOf(r);
  assert.equal(json.destination, 'remote');
  assert.equal(json.bitmapOnly, false);
  assert.notEqual(await sha256File(destination), before, 'the destination was written');
});

test('the library result of a bitmap-only sync says the same', async () => {
  const bitmap = join(dir.path, 'library.bitmap');
  const result = await sync({ local: source, action: 'PUSH', bitmap, bufferKiB: 64 });
  assert.equal(result.ok, true);
  assert.equal(result.destination, null);
  assert.equal(result.bitmapOnly, true);
});
