/**
 * A hash id this basyn does not know (a bitmap from a newer version, a damaged
 * header, a hostile client's OPEN) is named once, with the ids that are known, not
 * as "unknown hash id 200 (id 200)". Through the real command for a bitmap, and in
 * raw frames for the agent.
 */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode, MessageType, OpenCodec } from '../protocol/protocol.js';
import { errorLines } from '../test-support/bitmap-files.js';
import { sha256File, writeImage } from '../test-support/images.js';
import { RawAgentSession, clientHello } from '../test-support/in-memory-agent.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { describeRun } from '../test-support/run-places.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 256 * 1024;
let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await makeTempDir('basyn-hash-id-');
});
after(async () => dir?.remove());

const occurrences = (text: string, word: string): number => text.split(word).length - 1;

test('a bitmap whose header names hash id 200: one line saying so once, with the known ids and the expected hash', async () => {
  const source = join(dir.path, 'source.img');
  const destination = join(dir.path, 'destination.img');
  const bitmap = join(dir.path, 'image.bitmap');
  await writeImage(source, SIZE, 1);
  await writeImage(destination, SIZE, 2);
  const args = ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', '64'];
  const made = await runBasyn(args);
  assert.equal(made.code, 0, describeRun(made));
  const f = await open(bitmap, 'r+');
  await f.write(Buffer.from([200]), 0, 1, 24);
  await f.close();
  const before = await sha256File(bitmap);

  const r = await runBasyn(args);
  assert.equal(r.code, 2, describeRun(r));
  const lines = errorLines(r.stderr);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /hash id is 200, which this basyn does not know \(it knows 0 \(SHA1\) to 9 \(BLAKE3\)\), expected SHA1 \(id 0\)/);
  assert.equal(occurrences(lines[0]!, '200'), 1, lines[0]);
  assert.doesNotMatch(lines[0]!, /unknown hash id/);
  assert.equal(await sha256File(bitmap), before, 'the bitmap is left as it was');
});

test('an OPEN asking the agent for hash id 200: an ERROR naming the id once and the ids it knows', async () => {
  const image = join(dir.path, 'device.img');
  await writeImage(image, SIZE, 3);
  const s = new RawAgentSession();
  s.send(clientHello());
  s.sendMessage({ type: MessageType.Open, id: 1, writable: false, hashId: 200, codec: OpenCodec.None, level: 0, rateLimit: 0, blockSize: 65536, createSize: 0, path: image });
  const answer = await s.waitForFrame((m) => m.type === MessageType.Error);
  s.end();
  assert.ok(answer?.type === MessageType.Error, `an ERROR frame: ${JSON.stringify(answer)}`);
  assert.equal(answer.code, ErrorCode.Protocol);
  assert.match(answer.message, /OPEN asks for hash id 200, which this agent does not know \(it knows 0 \(SHA1\) to 9 \(BLAKE3\)\)/);
  assert.equal(occurrences(answer.message, '200'), 1, answer.message);
});
