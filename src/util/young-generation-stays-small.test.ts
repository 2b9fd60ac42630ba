/**
 * The command keeps V8's young generation at its first size for the whole run, also
 * after worker threads start (node 18 to 22 reset the setting for each new isolate).
 * Each case runs in a child node, since the setting is process-wide: a workload whose
 * survivors make V8 grow the young generation, then the new space's size.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';

const youngGeneration = new URL('./young-generation.js', import.meta.url).href;
const quietWorker = new URL('./quiet-worker.js', import.meta.url).href;

const CHILD = `
import v8 from 'node:v8';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { keepYoungGenerationSmall } from ${JSON.stringify(youngGeneration)};
import { quietWorker } from ${JSON.stringify(quietWorker)};
const [keep, thread] = process.argv.slice(1);
if (keep === 'keep') keepYoungGenerationSmall();
const code = 'setTimeout(() => {}, 60000)';
const worker = thread === 'quiet' ? quietWorker(code, { eval: true }) : new Worker(code, { eval: true });
await once(worker, 'online');
await new Promise((resolve) => setImmediate(resolve)); // the 'online' listeners have all run
const survivors = [];
for (let round = 0; round < 600; round++) {
  for (let i = 0; i < 20000; i++) {
    const o = { i, list: [i] };
    if (i % 40 === 0) survivors.push(o);
  }
  if (survivors.length > 20000) survivors.splice(0, 10000);
  await new Promise((resolve) => setImmediate(resolve));
}
const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(String(newSpace.space_size));
process.exit(0);
`;

/** The new space's size in MiB after the workload. */
function newSpaceMiB(keep: 'keep' | 'default', thread: 'quiet' | 'plain'): number {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, keep, thread], { encoding: 'utf8' });
  return Number(out) / 1048576;
}

const INITIAL_MIB = 2; // two semi-spaces of 1 MiB

describe('young generation', () => {
  test('by default the workload grows the young generation (so the cases below can fail)', () => {
    assert.ok(newSpaceMiB('default', 'quiet') > INITIAL_MIB * 2);
  });

  test('kept small, it stays at its first size after a worker thread has started', () => {
    assert.equal(newSpaceMiB('keep', 'quiet'), INITIAL_MIB);
  });

  const major = Number(process.versions.node.split('.')[0]);
  test(
    'a worker started without quietWorker undoes it on this node (why quietWorker sets it again)',
    { skip: major >= 24 ? `node ${process.version} keeps the setting when a worker starts` : false },
    () => {
      assert.ok(newSpaceMiB('keep', 'plain') > INITIAL_MIB * 2);
    },
  );
});
