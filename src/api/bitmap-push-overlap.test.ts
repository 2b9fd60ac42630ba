/**
 * A bitmap PUSH to an agent reads and hashes its source while the agent starts, and
 * checks the destination (its size, the spot check) before writing anything. Here the
 * agent's node is made slow to start, so the scan is done before the agent is up;
 * with a destination that is too small or that fails the spot check the run exits 2
 * and neither the destination nor the bitmap has changed by a byte, although the
 * source has blocks the bitmap says are different (blocks that would be written).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sync } from './library.js';
import { cmp, imagePair, scribble } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { agentTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const BLOCK = 64 * 1024;
const BLOCKS = 48;
const SIZE = BLOCKS * BLOCK + 999;
const dir = tempDirForFile();
let n = 0;

/** A synced pair with its bitmap made by a first run, then the source changed in a few blocks. */
async function prepared(targetArgs: string[], env: NodeJS.ProcessEnv | undefined): Promise<{ source: string; destination: string; bitmap: string }> {
  n++;
  const p = await imagePair(dir.path, `o${n}`, SIZE, 300 + n, 'none');
  const bitmap = join(dir.path, `o${n}.bitmap`);
  const first = await runBasyn(['-l', p.source, '-r', p.destination, ...targetArgs, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, `--buffer=${BLOCK / 1024}`], { env });
  assert.equal(first.code, 0, describeRun(first));
  await scribble(p.source, [3 * BLOCK + 10, 30 * BLOCK + 5], 200, 900 + n);
  return { ...p, bitmap };
}

async function snapshot(...paths: string[]): Promise<Buffer[]> {
  return Promise.all(paths.map((p) => readFile(p)));
}

for (const { target, skip } of await agentTargets()) {
  describe(`bitmap PUSH over ${target.name}`, { skip }, () => {
    const run = (p: { source: string; destination: string; bitmap: string }, ...extra: string[]) =>
      runBasyn(['-l', p.source, '-r', p.destination, ...target.args, '-a', 'PUSH', '-m', 'SYNC', '-b', p.bitmap, `--buffer=${BLOCK / 1024}`, ...extra], { env: target.env });

    test('hashes the source while the agent starts, then syncs the changed blocks', async () => {
      const p = await prepared(target.args, target.env);
      const r = await run(p, '--verbose');
      assert.equal(r.code, 0, describeRun(r));
      // --verbose lines go to stdout.
      assert.match(r.stdout, /reading and hashing the source while the agent starts/);
      assert.match(r.stdout, /bitmap spot check: \d+ destination blocks match/);
      assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
      const again = await run(p, '--stat');
      assert.equal(again.code, 0, describeRun(again));
    });

    test('a destination smaller than the source: exit 2, nothing written, bitmap unchanged', async () => {
      const p = await prepared(target.args, target.env);
      await truncate(p.destination, SIZE - BLOCK);
      const before = await snapshot(p.destination, p.bitmap);
      const r = await run(p);
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, /cannot PUSH: .* is smaller than/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      const after = await snapshot(p.destination, p.bitmap);
      assert.ok(after[0]!.equals(before[0]!), 'the destination was written');
      assert.ok(after[1]!.equals(before[1]!), 'the bitmap was written');
    });

    test('a failing spot check: exit 2, nothing written, bitmap unchanged', async () => {
      const p = await prepared(target.args, target.env);
      // Every block of the destination changed behind the bitmap's back: any sample fails.
      await scribble(p.destination, Array.from({ length: BLOCKS + 1 }, (_, i) => i * BLOCK), 1, 77);
      const before = await snapshot(p.destination, p.bitmap);
      const r = await run(p);
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, /does not match .*: the block at offset \d+ differs from its recorded digest/);
      const after = await snapshot(p.destination, p.bitmap);
      assert.ok(after[0]!.equals(before[0]!), 'the destination was written');
      assert.ok(after[1]!.equals(before[1]!), 'the bitmap was written');
    });
  });
}

describe('the scan does not wait for the agent', () => {
  test('with an agent slow to start, the whole source is compared before the destination opens', async () => {
    const p = await prepared(['--remote-node', process.execPath], undefined);
    // A node that takes a second to start: the scan of 3 MiB is done long before.
    const slowNode = join(dir.path, 'slow-node.sh');
    await writeFile(slowNode, `#!/bin/sh\nsleep 1\nexec '${process.execPath}' "$@"\n`);
    await chmod(slowNode, 0o755);
    const lines: string[] = [];
    await sync({
      local: p.source, remote: p.destination, action: 'PUSH', bitmap: p.bitmap, bufferKiB: BLOCK / 1024, remoteNode: slowNode,
      onLog: (line) => lines.push(line),
    });
    assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
    const scanned = lines.findIndex((l) => /^source compared with the bitmap before the destination was open: 2 of 49 blocks differ$/.test(l));
    const opened = lines.findIndex((l) => /^remote device .*: \d+ bytes/.test(l));
    assert.ok(scanned >= 0 && opened >= 0, lines.join('\n'));
    assert.ok(scanned < opened, `the source was not compared before the agent was up:\n${lines.join('\n')}`);
  });
});
