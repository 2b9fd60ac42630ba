/**
 * A window bounds both the bytes and the number of operations in flight, admits
 * waiting callers in order, and waiting on it costs O(1) per operation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedWindow } from './bounded-window.js';

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('BoundedWindow', () => {
  test('tiny operations are bounded by count, not only by bytes', async () => {
    const window = new BoundedWindow({ bytes: 1024 * 1024 * 1024, items: 8 });
    let running = 0;
    let most = 0;
    const adds: Promise<void>[] = [];
    // Callers that do not await each other (the agent queues writes this way).
    for (let i = 0; i < 200; i++) {
      adds.push(window.add(1, async () => {
        running++;
        most = Math.max(most, running);
        await tick();
        running--;
      }));
    }
    await Promise.all(adds);
    await window.drain();
    assert.equal(running, 0);
    assert.equal(most, 8);
  });

  test('bytes are bounded, and one oversized operation still runs alone', async () => {
    const window = new BoundedWindow({ bytes: 100, items: 1000 });
    let bytes = 0;
    let most = 0;
    const op = (n: number) => async () => {
      bytes += n;
      most = Math.max(most, bytes);
      await tick();
      bytes -= n;
    };
    for (let i = 0; i < 50; i++) await window.add(30, op(30));
    await window.add(500, op(500));
    await window.add(30, op(30));
    await window.drain();
    assert.equal(most, 500);
  });

  test('waiting callers are admitted in the order they came', async () => {
    const window = new BoundedWindow({ bytes: 10, items: 2 });
    const started: number[] = [];
    const adds: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      adds.push(window.add(i % 3 === 0 ? 9 : 1, async () => {
        started.push(i);
        await tick();
      }));
    }
    await Promise.all(adds);
    await window.drain();
    assert.deepEqual(started, [...Array(20).keys()]);
  });

  test('a failure is thrown once by the next add, and by drain', async () => {
    const window = new BoundedWindow({ bytes: 10, items: 4 });
    await window.add(1, async () => {
      await tick();
      throw new Error('disk on fire');
    });
    await tick();
    await tick();
    await assert.rejects(window.add(1, async () => undefined), /disk on fire/);
    await assert.rejects(window.drain(), /disk on fire/);
  });

  test('drain waits for callers still queued', async () => {
    const window = new BoundedWindow({ bytes: 10, items: 1 });
    let done = 0;
    const adds = [0, 1, 2].map(() => window.add(1, async () => {
      await tick();
      done++;
    }));
    await window.drain();
    await Promise.all(adds);
    await window.drain();
    assert.equal(done, 3);
  });

  test('50000 waits cost about as much each as the first ones (no wait over every running operation)', async () => {
    // With a race over all running operations per wait, each wait adds a reaction to
    // each of them: 2048 in flight and 50000 waits would be 1e8 reactions.
    const window = new BoundedWindow({ bytes: 1024 * 1024 * 1024, items: 2048 });
    const started = performance.now();
    for (let i = 0; i < 50_000; i++) await window.add(1, () => tick());
    await window.drain();
    const ms = performance.now() - started;
    assert.ok(ms < 20_000, `50000 operations took ${ms.toFixed(0)} ms`);
  });
});
