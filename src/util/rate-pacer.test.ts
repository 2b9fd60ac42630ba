/**
 * --bwlimit's pacer on a simulated clock: bytes let through in any 2 s window stay
 * within 2.5 % of the rate, and the whole stream moves at the rate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RatePacer } from './rate-pacer.js';

function simulate(rate: number, frames: number[]): { at: number; bytes: number }[] {
  let now = 0;
  const pacer = new RatePacer(rate, now);
  const sent: { at: number; bytes: number }[] = [];
  for (const frame of frames) {
    let left = frame;
    while (left > 0) {
      const n = pacer.take(left, now);
      if (n === 0) {
        now += Math.max(1, pacer.waitFor(left, now));
        continue;
      }
      sent.push({ at: now, bytes: n });
      left -= n;
    }
  }
  return sent;
}

for (const rate of [500 * 1024, 20 * 1024 * 1024, 1000]) {
  test(`at ${rate} bytes/s, no 2 s window carries more than 2.025 x the rate, 2 MiB frames or not`, () => {
    const frames = rate < 10_000 ? Array(20).fill(1000) : Array(rate < 1e6 ? 4 : 40).fill(2 * 1024 * 1024 + 17);
    const sent = simulate(rate, frames);
    const total = frames.reduce((a, b) => a + b, 0);
    assert.equal(sent.reduce((a, s) => a + s.bytes, 0), total);
    let worst = 0;
    for (let i = 0, j = 0, inWindow = 0; i < sent.length; i++) {
      inWindow += sent[i]!.bytes;
      while (sent[i]!.at - sent[j]!.at >= 2000) inWindow -= sent[j++]!.bytes;
      worst = Math.max(worst, inWindow);
    }
    assert.ok(worst <= 2 * rate * 1.025 + 1, `worst 2 s window: ${worst} bytes, limit ${2 * rate}`);
    const seconds = sent[sent.length - 1]!.at / 1000;
    assert.ok(total / seconds <= rate * 1.05 && total / seconds >= rate * 0.9, `average ${Math.round(total / seconds)} bytes/s`);
  });
}
