/**
 * An apply killed with SIGKILL at a random moment (during the verification, during
 * the writes, or before it began) leaves a destination the same apply accepts again:
 * every entry's range holds its before or its after state. Run again, it completes,
 * and the destination equals the source.
 */
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { cmp, writeImage } from '../test-support/images.js';
import { prng } from '../test-support/prng.js';
import { describeRun, runBasyn, startBasyn } from '../test-support/run-basyn.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const KiB = 1024;
const SIZE = 4 * 1024 * KiB;
const TRIALS = 20;
const dir = tempDirForFile('basyn-delta-kill-');

it(`an apply killed with SIGKILL at random points (${TRIALS} trials) completes when run again`, async (t) => {
  const src = join(dir.path, 'src');
  const base = join(dir.path, 'base');
  const dst = join(dir.path, 'dst');
  const delta = join(dir.path, 'delta');
  await writeImage(src, SIZE, 1);
  await writeImage(base, SIZE, 2);
  // Every 4 KiB block differs: 1024 entries, so a kill lands among the writes.
  const made = await runBasyn(['-l', src, '-r', base, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '4', '--zlevel', '0', '--write-delta', delta]);
  assert.equal(made.code, 0, describeRun(made));
  await copyFile(base, dst);
  const started = performance.now();
  const full = await runBasyn(['--apply-delta', delta, '-l', dst]);
  assert.equal(full.code, 0, describeRun(full));
  const span = performance.now() - started;
  const random = prng(12);
  let killedMidway = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    await copyFile(base, dst);
    const run = startBasyn(['--apply-delta', delta, '-l', dst]);
    const delay = random() * span;
    await new Promise((resolve) => setTimeout(resolve, delay));
    run.child.kill('SIGKILL');
    const ended = await run.done;
    if (ended.signal === 'SIGKILL') killedMidway++;
    const again = await runBasyn(['--apply-delta', delta, '-l', dst]);
    assert.equal(again.code, 0, `trial ${trial}, killed after ${delay.toFixed(0)} ms: ${describeRun(again)}`);
    assert.equal(await cmp(src, dst), true, `trial ${trial}: the destination differs from the source`);
  }
  t.diagnostic(`${killedMidway} of ${TRIALS} runs were killed before they ended (one apply takes ${span.toFixed(0)} ms)`);
  assert.ok(killedMidway >= TRIALS / 2, `only ${killedMidway} runs were killed before they ended`);
});
