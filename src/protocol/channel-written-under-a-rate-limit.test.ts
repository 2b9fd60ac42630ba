/**
 * send()'s `written` comes under --bwlimit too (the paced output), once the message's
 * last byte is out, and when the output fails with the message still held. The sender
 * gives its copy of a raw block back to its reused slabs on it: without it, every raw
 * block under --bwlimit left its slab to the garbage collector.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Channel } from './channel.js';
import { Encoding, MessageType } from './protocol.js';

const handlers = { message: () => undefined, closed: () => undefined };

function write(length: number) {
  return { type: MessageType.Write, offset: 0, rawLength: length, encoding: Encoding.Raw, payload: Buffer.alloc(length, 7) } as const;
}

test('under a rate limit, written comes once the whole message has left, not before', async () => {
  const output = new PassThrough();
  const channel = new Channel(new PassThrough(), output, handlers);
  // 64 KiB/s, and 96 KiB to send: the pacer lets it out over more than a second.
  channel.setRateLimit(64 * 1024);
  let received = 0;
  output.on('data', (chunk: Buffer) => (received += chunk.length));
  const sentAt = performance.now();
  const done = new Promise<number>((resolve) => channel.send(write(96 * 1024), () => resolve(received)));
  const receivedWhenWritten = await done;
  assert.ok(performance.now() - sentAt > 300, 'written came before the pacer could have let the message out');
  assert.ok(receivedWhenWritten >= 96 * 1024 || channel.pendingOutput === 0, `written with ${receivedWhenWritten} bytes out`);
  assert.equal(channel.pendingOutput, 0);
});

test('under a rate limit, a message still held when the output fails counts as written', async () => {
  const output = new PassThrough();
  const channel = new Channel(new PassThrough(), output, handlers);
  channel.setRateLimit(1024);
  const calls: string[] = [];
  channel.send(write(64 * 1024), () => calls.push('first'));
  channel.send(write(10), () => calls.push('second'));
  output.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls.sort(), ['first', 'second']);
});
