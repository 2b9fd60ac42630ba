/**
 * RemoteDevice.close() never waits for ever: when the agent stops reading (stopped,
 * thrashing) with writes still queued for it, close() gives up after a few seconds,
 * ends the link and says the destination may be partly written. The agent is the real
 * one, in memory; only the pipe to it stops being read.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { TransportError } from '../errors.js';
import { hashByName } from '../hash/hash-algorithms.js';
import { writeImage } from '../test-support/images.js';
import { startInMemoryAgent } from '../test-support/in-memory-agent.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { RemoteDevice, type AgentLink } from './remote-device.js';

const MiB = 1024 * 1024;
const dir = tempDirForFile('basyn-close-stuck-');

test('close() with writes queued for an agent that stopped reading gives up within seconds, ends the link and says the destination may be partly written', { timeout: 60_000 }, async () => {
  const path = join(dir.path, 'destination.img');
  await writeImage(path, 64 * MiB, 3);
  const { server, link } = startInMemoryAgent();
  // Everything to the agent passes this gate; unpiped, nobody reads it any more.
  const gate = new PassThrough();
  gate.pipe(link.output);
  let closes = 0;
  const stuck: AgentLink = { ...link, output: gate, close: async () => void closes++ };
  const device = await RemoteDevice.connect(stuck, { path, writable: true, hash: hashByName('SHA1')!, compress: { compress: 'none', level: 0 }, blockSize: 4 * MiB });
  gate.unpipe(link.output);
  // More than the gate and the write window hold: some writes stay queued.
  const writes = Array.from({ length: 8 }, (_, i) => device.write(i * 4 * MiB, Buffer.alloc(4 * MiB, i + 1)));
  for (const w of writes) w.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 200));
  const started = Date.now();
  await assert.rejects(device.close(), (error: unknown) => {
    assert.ok(error instanceof TransportError, String(error));
    assert.match(error.message, /did not take its last writes within 5 s; the destination may be partly written/);
    return true;
  });
  const ms = Date.now() - started;
  assert.ok(ms >= 4000 && ms < 10_000, `close() took ${ms} ms`);
  assert.equal(closes, 1, 'the link was not ended');
  // (The writes stuck behind the gate stay pending: nothing waits on them any more.)
  link.output.end();
  await server.done;
});
