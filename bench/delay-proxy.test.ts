/**
 * The bench's delay proxy: a round trip through it takes at least twice the one-way
 * delay, bytes arrive intact and in order in both directions, the bandwidth cap
 * holds the transfer back, and an idle proxy stops by itself. Only lower bounds on
 * time are checked, so a busy machine cannot make these fail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startDelayProxy } from './delay-proxy.js';

let echo: Server;
let echoPort: number;

before(async () => {
  echo = createServer({ allowHalfOpen: true }, (socket) => {
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  echoPort = (echo.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `data` in pieces of varying size, half-closes, and returns all bytes echoed back. */
async function echoThrough(port: number, data: Buffer): Promise<Buffer> {
  const socket = await connectTo(port);
  const received: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(received)));
    socket.on('error', reject);
  });
  for (let at = 0, piece = 1; at < data.length; at += piece, piece = (piece * 7 + 13) % 70_000 + 1) {
    socket.write(data.subarray(at, at + piece));
  }
  socket.end();
  const echoed = await done;
  socket.destroy();
  return echoed;
}

function digest(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('delay proxy', () => {
  test('a round trip takes at least twice the one-way delay', async () => {
    const delayMs = 60;
    const proxy = await startDelayProxy({ targetPort: echoPort, delayMs });
    try {
      const socket = await connectTo(proxy.port);
      const started = performance.now();
      const reply = new Promise<Buffer>((resolve) => socket.once('data', resolve));
      socket.write('ping');
      assert.equal((await reply).toString(), 'ping');
      const elapsed = performance.now() - started;
      socket.destroy();
      assert.ok(elapsed >= 2 * delayMs, `round trip took ${elapsed.toFixed(1)} ms, expected >= ${2 * delayMs} ms`);
    } finally {
      await proxy.stop();
    }
  });

  for (const delayMs of [0, 5]) {
    test(`bytes arrive intact and in order, both ways (${delayMs} ms)`, async () => {
      const proxy = await startDelayProxy({ targetPort: echoPort, delayMs, maxQueuedBytes: 256 * 1024 });
      try {
        const data = randomBytes(4 * 1024 * 1024 + 123);
        const echoed = await echoThrough(proxy.port, data);
        assert.equal(echoed.length, data.length);
        assert.equal(digest(echoed), digest(data));
      } finally {
        await proxy.stop();
      }
    });
  }

  test('the bandwidth cap holds the transfer back', async () => {
    const bytesPerSecond = 1024 * 1024;
    const proxy = await startDelayProxy({ targetPort: echoPort, delayMs: 0, bytesPerSecond });
    try {
      const data = randomBytes(256 * 1024);
      const started = performance.now();
      const echoed = await echoThrough(proxy.port, data);
      const elapsed = performance.now() - started;
      assert.ok(echoed.equals(data));
      // Each direction carries the data once at the cap; the two overlap at most fully.
      const minimum = (1000 * data.length) / bytesPerSecond;
      assert.ok(elapsed >= minimum, `took ${elapsed.toFixed(1)} ms, expected >= ${minimum} ms`);
    } finally {
      await proxy.stop();
    }
  });

  test('an idle proxy stops by itself', async () => {
    const proxy = await startDelayProxy({ targetPort: echoPort, delayMs: 1, idleStopMs: 500 });
    const echoed = await echoThrough(proxy.port, Buffer.from('hello'));
    assert.equal(echoed.toString(), 'hello');
    await proxy.stopped;
    assert.equal(proxy.accepted, 1);
    await assert.rejects(connectTo(proxy.port));
  });
});
