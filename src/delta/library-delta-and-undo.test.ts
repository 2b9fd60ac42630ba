/**
 * The library's delta calls: sync({ writeDelta }) makes a delta, applyDelta() applies
 * it (and its undo rolls it back), and every value a JavaScript caller can pass to the
 * new options is checked at run time, rejecting with a UsageError that names the
 * option as the library spells it, before any file is written.
 */
import assert from 'node:assert/strict';
import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyDelta, copy, sync, UsageError } from '../index.js';
import { cmp, scribble, sha256File, writeImage } from '../test-support/images.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const SIZE = 512 * 1024 + 3;
const dir = tempDirForFile('basyn-library-delta-');

test('sync({ writeDelta }) then applyDelta({ undo }) and back', async () => {
  const src = join(dir.path, 'src');
  const dst = join(dir.path, 'dst');
  await writeImage(src, SIZE, 1);
  await copyFile(src, dst);
  await scribble(src, [1000, 300_000], 20, 3);
  const original = await sha256File(dst);
  const delta = join(dir.path, 'delta');
  const phases = new Set<string>();
  const made = await sync({ local: src, remote: dst, action: 'PUSH', bufferKiB: 64, writeDelta: delta, onProgress: (e) => phases.add(e.phase) });
  assert.equal(made.delta?.operation, 'write');
  assert.equal(made.delta?.entries, 2);
  assert.equal(made.delta?.dataBytes, 2 * 64 * 1024);
  assert.equal(await sha256File(dst), original, 'writeDelta leaves the destination untouched');
  const undo = join(dir.path, 'undo');
  const applied = await applyDelta({ applyDelta: [delta], local: dst, undo, onProgress: (e) => phases.add(e.phase) });
  assert.deepEqual([...phases].sort(), ['APPLY', 'SYNC', 'VERIFY'], 'progress of making (a SYNC into the delta) and of applying');
  assert.equal(applied.writes, 2);
  assert.equal(applied.undo?.entries, 2);
  assert.equal(await cmp(src, dst), true);
  await applyDelta({ applyDelta: undo, local: dst });
  assert.equal(await sha256File(dst), original);
});

test('what a caller can pass to the delta options is checked', async () => {
  const src = join(dir.path, 'src');
  const before = await readdir(dir.path);
  const refused: [string, () => Promise<unknown>, RegExp][] = [
    ['applyDelta missing', () => applyDelta({ local: src } as never), /applyDelta is required/],
    ['applyDelta a number', () => applyDelta({ applyDelta: 5 as never, local: src }), /applyDelta must be a non-empty string or a non-empty array/],
    ['applyDelta empty array', () => applyDelta({ applyDelta: [], local: src }), /applyDelta must be/],
    ['applyDelta array with null', () => applyDelta({ applyDelta: [null as never], local: src }), /applyDelta must be a non-empty string, got null/],
    ['force a string', () => applyDelta({ applyDelta: 'd', local: src, force: 'yes' as never }), /force must be true or false/],
    ['applyDelta with both devices', () => applyDelta({ applyDelta: 'd', local: src, remote: src }), /applyDelta needs one device/],
    ['hash on applyDelta', () => applyDelta({ applyDelta: 'd', local: src, hash: 'SHA1' } as never), /hash is an option of/],
    ['writeDelta on copy()', () => copy({ local: src, remote: src, action: 'PUSH', writeDelta: 'd' } as never), /writeDelta is an option of sync\(\)/],
    ['writeDelta empty', () => sync({ local: src, remote: src, action: 'PUSH', writeDelta: '' }), /writeDelta must be a non-empty string/],
    ['undo with a dry run', () => sync({ local: src, remote: src, action: 'PUSH', dryRun: true, undo: 'u' }), /undo needs a run that writes a destination/],
    ['size without local "-"', () => sync({ local: src, remote: src, action: 'PUSH', size: 10 }), /size is for a source on standard input/],
    ['size 0', () => sync({ local: '-', remote: src, action: 'PUSH', size: 0 }), /size must be a whole number between 1/],
    ['size 1.5', () => sync({ local: '-', remote: src, action: 'PUSH', size: 1.5 }), /size must be a whole number/],
  ];
  for (const [what, call, message] of refused) {
    await assert.rejects(call(), (e: unknown) => e instanceof UsageError && message.test(e.message), what);
  }
  assert.deepEqual(await readdir(dir.path), before, 'no file was created');
});
