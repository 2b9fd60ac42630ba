/**
 * The version matrix, command side: the command under node 22 and 24 with the agent on
 * node 18, and the mixed pairs command 24 / agent 18 and command 20 / agent 24, over
 * the test sshd; the command alone (no agent) on 22 and 24; --version on each; and
 * a node too old for the command refused with one line.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cmp, scribble } from '../test-support/images.js';
import { nodeBinary, nodeOfMajor } from '../test-support/node-versions.js';
import { REPO_ROOT } from '../test-support/paths.js';
import { runPlaces } from '../test-support/run-places.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { BLOCK_KIB, SLICE_SIZE, mixedImage, runMatrixSlice } from '../test-support/version-matrix.js';

const PAIRS = [
  { command: 22, agent: 18 },
  { command: 24, agent: 18 },
  { command: 20, agent: 24 },
];
const COMMAND_NODES = [20, 22, 24];

const [, ssh] = await runPlaces();
let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await makeTempDir('basyn-command-nodes-');
});
after(async () => {
  await dir?.remove();
});

for (const pair of PAIRS) {
  const command = await nodeOfMajor(pair.command);
  const agent = await nodeOfMajor(pair.agent);
  const missing = [command, agent].find((n): n is string => typeof n === 'string');
  test(`the command on node ${pair.command} with the agent on node ${pair.agent} over ssh: SYNC, COPY and bitmap runs give identical bytes`, { skip: missing ?? ssh!.skip ?? false }, async () => {
    if (typeof command === 'string' || typeof agent === 'string') return;
    await runMatrixSlice(dir.path, { hostArgs: [...ssh!.hostArgs, '--remote-node', agent.path], env: ssh!.env, commandNode: command, agentVersion: agent.version });
  });
}

for (const major of COMMAND_NODES) {
  const node = await nodeOfMajor(major);
  describe(`the command on node ${major}`, { skip: typeof node === 'string' ? node : false }, () => {
    test('--version names basyn and this node', async () => {
      if (typeof node === 'string') return;
      const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
      const r = await runBasyn(['--version'], { node: node.path });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(r.stdout, `basyn ${pkg.version} node ${node.version}\n`);
    });

    test('alone (no agent): SYNC, then a bitmap PUSH hashed on worker threads (BLAKE3: WebAssembly) with --recheck, give identical bytes', async () => {
      if (typeof node === 'string') return;
      const source = join(dir.path, `alone${major}.source.img`);
      const destination = join(dir.path, `alone${major}.destination.img`);
      await writeFile(source, mixedImage(SLICE_SIZE, major));
      await writeFile(destination, mixedImage(SLICE_SIZE, major + 1));
      const sync = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '--buffer', String(BLOCK_KIB)], { node: node.path });
      assert.equal(sync.code, 0, describeRun(sync));
      assert.ok(await cmp(source, destination));
      const bitmap = join(dir.path, `alone${major}.bitmap`);
      await scribble(source, [5, SLICE_SIZE - 3], 3, major);
      const r = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--hash', 'BLAKE3', '--recheck', '--buffer', String(BLOCK_KIB)], { node: node.path });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(source, destination));
    });
  });
}

test('on node 18 the command refuses with one line naming the version found and the minimum (exit 2)', async (t) => {
  const old = await nodeBinary(18);
  if (typeof old === 'string') return t.skip(old);
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const minimum = /^>=(\d+)$/.exec(pkg.engines.node)?.[1];
  assert.ok(minimum !== undefined, `engines.node is ">=N": ${pkg.engines.node}`);
  const r = await runBasyn(['--version'], { node: old.path });
  assert.equal(r.code, 2, describeRun(r));
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `basyn: node ${old.version} is too old for the basyn command, which needs node >= ${minimum}\n`);
});
