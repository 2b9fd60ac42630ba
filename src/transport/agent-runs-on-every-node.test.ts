/**
 * The version matrix, agent side: the agent under node 18, 22 and 24 (--remote-node),
 * through a local agent and over the test sshd, with the command on the node running
 * the tests; and under node 18.0.0, the oldest the bootstrap lets in, through a local
 * agent (what node 18.0 lacks, such as os.availableParallelism, must be detected).
 * What each run covers: test-support/version-matrix.ts. And on each of these nodes,
 * a SIGINT in the middle of a run through a local agent.
 */
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cmp, writeImage } from '../test-support/images.js';
import { nodeBinary } from '../test-support/node-versions.js';
import { allocatedNow, childPids, describeFinished, isAlive, spawnBasyn, waitUntil } from '../test-support/process-tree.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { agentPlaces } from '../test-support/run-places.js';
import { slowDiskNode } from '../test-support/slow-disk-agent.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { runMatrixSlice } from '../test-support/version-matrix.js';

const AGENT_NODES = [18, 22, 24];
const OLDEST = '18.0.0';

const places = await agentPlaces();
let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await makeTempDir('basyn-agent-nodes-');
});
after(async () => {
  await dir?.remove();
});

for (const major of AGENT_NODES) {
  const agentNode = await nodeBinary(major);
  describe(`the agent on node ${major}`, () => {
    for (const place of places) {
      const skip = typeof agentNode === 'string' ? agentNode : place.skip ?? false;
      test(`SYNC, COPY and bitmap runs ${place.name} give identical bytes`, { skip }, async () => {
        if (typeof agentNode === 'string') return;
        // The local agent place names the tests' node: ours replaces it.
        const where = place.hostArgs.includes('--remote-node') ? [] : place.hostArgs;
        await runMatrixSlice(dir.path, {
          hostArgs: [...where, '--remote-node', agentNode.path],
          env: place.env,
          commandNode: { path: process.execPath, version: process.version },
          agentVersion: agentNode.version,
        });
      });
    }
  });
}

const oldest = await nodeBinary(OLDEST);
test(`the agent on node ${OLDEST}: SYNC, COPY and bitmap runs through a local agent give identical bytes`, { skip: typeof oldest === 'string' ? oldest : false }, async () => {
  if (typeof oldest === 'string') return;
  await runMatrixSlice(dir.path, {
    hostArgs: ['--remote-node', oldest.path],
    commandNode: { path: process.execPath, version: process.version },
    agentVersion: oldest.version,
  });
});

/**
 * SIGINT while the agent on that node works off a queue of writes (a slow disk): basyn
 * stops cleanly (exit 2, "interrupted by SIGINT") and the agent is gone; the next run
 * makes the devices equal.
 */
async function interruptedRun(agentNode: { path: string; version: string }, name: string): Promise<void> {
  // 32 blocks of random data at 40 ms a write: a run of over a second to interrupt.
  const slow = await slowDiskNode(dir.path, 40, agentNode.path);
  const source = join(dir.path, `${name}.source.img`);
  const destination = join(dir.path, `${name}.destination.img`);
  await writeImage(source, 2 * 1024 * 1024, 9);
  await writeFile(destination, Buffer.alloc(0));
  await truncate(destination, 2 * 1024 * 1024);
  const run = spawnBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'COPY', '--buffer', '64', '--remote-node', slow]);
  await waitUntil(() => run.exited || allocatedNow(destination) >= 64 * 1024, 30_000, 'the first write to land');
  // The local agent is basyn's child (its wrapper execs node).
  const agents = childPids(run.pid);
  assert.ok(!run.exited && agents.length > 0, `the run ended before it could be interrupted: ${run.exited ? describeFinished(await run.done) : 'no agent child'}`);
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 2, describeFinished(r));
  assert.match(r.stderr, /interrupted by SIGINT/);
  await waitUntil(() => agents.every((p) => !isAlive(p)), 8000, `the agent (${agents.join(', ')}) to be gone`, 50);
  const again = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '--remote-node', agentNode.path]);
  assert.equal(again.code, 0, describeRun(again));
  assert.ok(await cmp(source, destination));
}

for (const version of [...AGENT_NODES, OLDEST]) {
  const agentNode = await nodeBinary(version);
  test(`SIGINT stops a run through a local agent on node ${version} cleanly, and the agent is gone`, { skip: typeof agentNode === 'string' ? agentNode : false }, async () => {
    if (typeof agentNode === 'string') return;
    await interruptedRun(agentNode, `sigint${version}`);
  });
}
