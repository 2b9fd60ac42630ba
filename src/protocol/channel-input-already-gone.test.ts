/**
 * A Channel made over an input that is already destroyed (the pipes of a child
 * process that could not be started) reports the close at once instead of waiting
 * for events that will never come.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Channel } from './channel.js';

test('a channel over an already destroyed input reports it closed at once', async () => {
  const input = new PassThrough();
  input.destroy();
  await new Promise((resolve) => setImmediate(resolve)); // its 'close' event is gone by now
  const closed = await new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('closed() was not called')), 2000);
    new Channel(input, new PassThrough(), {
      message: () => undefined,
      closed: (error) => {
        clearTimeout(timer);
        resolve(error);
      },
    });
  });
  assert.equal(closed, undefined);
});
