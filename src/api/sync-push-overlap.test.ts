/**
 * A plain PUSH SYNC to an agent reads and hashes its source while the agent starts
 * (sync-push-overlap.ts), and writes nothing before the destination is open and its
 * size checked: with a destination that is too small the run exits 2 and the
 * destination has not changed by a byte, although the source has blocks that differ.
 * With an agent slow to start, the whole source is hashed before the destination opens,
 * and the run still moves exactly the differing blocks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sync } from './library.js';
import { cmp, imagePair, scribble } from '../test-support/images.js';
import { describeRun, parseStat, runBasyn } from '../test-support/run-basyn.js';
import { agentTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const BLOCK = 64 * 1024;
const BLOCKS = 48;
const SIZE = BLOCKS * BLOCK + 999;
const dir = tempDirForFile();
let n = 0;

/** A pair that differs in two blocks. */
async function prepared(): Promise<{ source: string; destination: string }> {
  n++;
  const p = await imagePair(dir.path, `s${n}`, SIZE, 500 + n, 'none');
  await scribble(p.source, [3 * BLOCK + 10, 30 * BLOCK + 5], 200, 700 + n);
  return p;
}

for (const { target, skip } of await agentTargets()) {
  describe(`plain PUSH SYNC over ${target.name}`, { skip }, () => {
    const run = (p: { source: string; destination: string }, ...extra: string[]) =>
      runBasyn(['-l', p.source, '-r', p.destination, ...target.args, '-a', 'PUSH', '-m', 'SYNC', `--buffer=${BLOCK / 1024}`, ...extra], { env: target.env });

    for (const hash of ['XXH128', 'SHA1']) {
      test(`${hash}: hashes the source while the agent starts, then moves the differing blocks only`, async () => {
        const p = await prepared();
        const r = await run(p, '--verbose', '--stat', `--hash=${hash}`);
        assert.equal(r.code, 0, describeRun(r));
        assert.match(r.stdout, /reading and hashing the source while the agent starts/);
        assert.match(r.stdout, /source hashed before the destination was open: \d+ of 49 blocks/);
        assert.match(r.stdout, /2 of 49 blocks differ/);
        assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
        assert.ok(parseStat(r.stdout)!.tx < 4 * BLOCK, r.stdout);
      });
    }

    test('a destination smaller than the source: exit 2, nothing written', async () => {
      const p = await prepared();
      await truncate(p.destination, SIZE - BLOCK);
      const before = await readFile(p.destination);
      const r = await run(p);
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, /cannot PUSH: .* is smaller than/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok((await readFile(p.destination)).equals(before), 'the destination was written');
    });
  });
}

describe('the hashing does not wait for the agent', () => {
  test('with an agent slow to start, the whole source is hashed before the destination opens', async () => {
    const p = await prepared();
    // A node that takes a second to start: hashing 3 MiB is done long before.
    const slowNode = join(dir.path, 'slow-node.sh');
    await writeFile(slowNode, `#!/bin/sh\nsleep 1\nexec '${process.execPath}' "$@"\n`);
    await chmod(slowNode, 0o755);
    const lines: string[] = [];
    const result = await sync({
      local: p.source, remote: p.destination, action: 'PUSH', bufferKiB: BLOCK / 1024, remoteNode: slowNode,
      onLog: (line) => lines.push(line),
    });
    assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
    assert.equal(result.blocks.differing, 2);
    assert.ok(lines.some((l) => /^source hashed before the destination was open: 49 of 49 blocks$/.test(l)), lines.join('\n'));
  });
});
