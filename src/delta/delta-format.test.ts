/**
 * The delta file's bytes are those docs/delta-format.md lists: a file written by
 * DeltaWriter is taken apart here by hand, field by field, and read back by
 * DeltaFile; an undo file's checkpoints are where the format says.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashByName } from '../hash/hash-algorithms.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { DeltaFile } from './delta-reader.js';
import { DeltaWriter } from './delta-writer.js';

const dir = tempDirForFile('basyn-delta-format-');
const sha1 = hashByName('SHA1')!;
const digest = (b: Buffer): Buffer => createHash('sha1').update(b).digest();

test('header, entries and trailer lie at the documented offsets', async () => {
  const path = join(dir.path, 'd');
  const w = await DeltaWriter.create(path, { hash: sha1, unitSize: 4096, deviceSize: 10_000, kind: 'delta', codec: { codec: 'none', level: 0 } });
  const data = Buffer.alloc(4096, 7);
  const zeros = Buffer.alloc(1808);
  await w.add(4096, data, digest(Buffer.alloc(4096, 1)), digest(data));
  await w.add(8192, zeros, undefined, digest(zeros));
  const figures = await w.finish();
  const b = await readFile(path);
  assert.equal(b.length, figures.fileSize);
  assert.equal(b.subarray(0, 8).toString('latin1'), 'BASYNDLT');
  assert.equal(b.readUInt16LE(8), 1);
  assert.equal(b[10], 0); // SHA1
  assert.equal(b[11], 20);
  assert.equal(b.readUInt32LE(12), 4096);
  assert.equal(b.readBigUInt64LE(16), 10_000n);
  assert.ok(Math.abs(Number(b.readBigUInt64LE(24)) - Date.now()) < 60_000);
  assert.equal(b[32], 0);
  // First entry at 40: raw, before known.
  let at = 40;
  assert.equal(b[at], 0x45);
  assert.equal(b[at + 1], 1);
  assert.equal(b[at + 2], 0);
  assert.equal(b.readBigUInt64LE(at + 4), 4096n);
  assert.equal(b.readUInt32LE(at + 12), 4096);
  assert.equal(b.readUInt32LE(at + 16), 4096);
  assert.ok(b.subarray(at + 24, at + 44).equals(digest(Buffer.alloc(4096, 1))));
  assert.ok(b.subarray(at + 44, at + 64).equals(digest(data)));
  assert.ok(b.subarray(at + 64, at + 64 + 4096).equals(data));
  // Second: a zero marker of the short last block, before unknown (20 zero bytes).
  at += 64 + 4096;
  assert.equal(b[at], 0x45);
  assert.equal(b[at + 1], 0);
  assert.equal(b[at + 2], 2);
  assert.equal(b.readUInt32LE(at + 12), 1808);
  assert.equal(b.readUInt32LE(at + 16), 0);
  assert.ok(b.subarray(at + 24, at + 44).equals(Buffer.alloc(20)));
  at += 64;
  // Trailer: tag, count, data bytes, SHA-256 of everything before the checksum.
  assert.equal(b.length, at + 56);
  assert.equal(b[at], 0x54);
  assert.equal(b.readBigUInt64LE(at + 8), 2n);
  assert.equal(b.readBigUInt64LE(at + 16), 4096n + 1808n);
  assert.ok(b.subarray(at + 24).equals(createHash('sha256').update(b.subarray(0, at + 24)).digest()));
  const f = await DeltaFile.open(path);
  const entries = [];
  for await (const e of f.entries()) entries.push({ offset: e.offset, length: e.length, data: await f.data(e) });
  await f.close();
  assert.deepEqual(entries.map((e) => [e.offset, e.length]), [[4096, 4096], [8192, 1808]]);
  assert.ok(entries[0]!.data.equals(data) && entries[1]!.data.equals(zeros));
});

test('an undo file keeps its checkpoints; cut after one, it reads up to it', async () => {
  const path = join(dir.path, 'u');
  const w = await DeltaWriter.create(path, { hash: sha1, unitSize: 512, deviceSize: 4096, kind: 'undo', codec: { codec: 'none', level: 0 } });
  const one = Buffer.alloc(512, 1);
  await w.add(0, one, digest(Buffer.alloc(512, 9)), digest(one));
  await w.checkpoint();
  const cut = (await readFile(path)).length;
  await w.add(512, one, digest(Buffer.alloc(512, 9)), digest(one));
  await w.checkpoint();
  await w.finish();
  const b = await readFile(path);
  assert.equal(b[32], 1, 'kind undo');
  assert.equal(b[cut - 56], 0x43, 'a checkpoint ends the first batch');
  const whole = await DeltaFile.open(path);
  assert.equal(whole.entryCount, 2);
  assert.equal(whole.interrupted, false);
  await whole.close();
  // A run killed after its first checkpoint, in the middle of its second batch.
  const { writeFile } = await import('node:fs/promises');
  const partial = join(dir.path, 'u.partial');
  await writeFile(partial, b.subarray(0, cut + 30));
  const p = await DeltaFile.open(partial);
  assert.equal(p.interrupted, true);
  const offsets = [];
  for await (const e of p.entries()) offsets.push(e.offset);
  await p.close();
  assert.deepEqual(offsets, [0], 'only what the checkpoint covers');
  // The same cut in a delta (not an undo file) is refused.
  const delta = Buffer.from(b.subarray(0, cut + 30));
  delta[32] = 0;
  await writeFile(partial, delta);
  await assert.rejects(DeltaFile.open(partial), /damaged|truncated/);
});
