/**
 * The version matrix, agent side: the agent under node 18, 22 and 24 (--remote-node),
 * through a local agent and over the test sshd, with the command on the node running
 * the tests; and under node 18.0.0, the oldest the bootstrap lets in, through a local
 * agent (what node 18.0 lacks, such as os.availableParallelism, must be detected).
 * What each run covers: test-support/version-matrix.ts.
 */
import { after, before, describe, test } from 'node:test';
import { nodeBinary } from '../test-support/node-versions.js';
import { agentPlaces } from '../test-support/run-places.js';
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
