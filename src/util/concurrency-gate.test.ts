import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyGate } from './concurrency-gate.js';

test('a gate runs at most its limit of operations at once, the rest in the order they came', async () => {
  const gate = new ConcurrencyGate(2);
  let now = 0;
  let most = 0;
  const order: number[] = [];
  const tick = () => new Promise((r) => setImmediate(r));
  const results = await Promise.all(Array.from({ length: 7 }, (_, i) => gate.run(async () => {
    order.push(i);
    most = Math.max(most, ++now);
    await tick();
    await tick();
    now--;
    return i * 10;
  })));
  assert.equal(most, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(results, [0, 10, 20, 30, 40, 50, 60]);
});

test('a failed operation frees its slot and its error reaches its caller only', async () => {
  const gate = new ConcurrencyGate(1);
  const failing = gate.run(() => Promise.reject(new Error('corrupt')));
  const next = gate.run(async () => 'ran');
  await assert.rejects(failing, /corrupt/);
  assert.equal(await next, 'ran');
});

test('a gate refuses a limit below one', () => {
  for (const limit of [0, -1, Number.NaN]) assert.throws(() => new ConcurrencyGate(limit), RangeError);
});
