/**
 * A remote node older than the agent's minimum fails at once, with one line naming
 * the version found and the minimum, and nothing written. The old node is a script
 * that runs this node with its version faked (process.version and
 * process.versions.node), so the real bootstrap meets it.
 */
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256File, writeImage } from '../test-support/images.js';
import { agentPlaces, describeRun } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { MIN_NODE_MAJOR } from './agent-bootstrap.js';

const OLD = `${MIN_NODE_MAJOR - 2}.20.2`;
const places = await agentPlaces();
let dir: { path: string; remove(): Promise<void> };
let oldNode: string;

before(async () => {
  dir = await makeTempDir('basyn-old-node-');
  const fake = join(dir.path, 'fake-version.cjs');
  await writeFile(fake, [
    `Object.defineProperty(process, 'version', { value: 'v${OLD}' });`,
    `Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '${OLD}' } });`,
  ].join('\n'));
  oldNode = join(dir.path, 'node');
  await writeFile(oldNode, `#!/bin/sh\nexec '${process.execPath}' --require '${fake}' "$@"\n`);
  await chmod(oldNode, 0o755);
});
after(async () => {
  await dir?.remove();
});

for (const place of places) {
  test(`a node ${OLD} as the agent's node fails at once with one line ${place.name}`, { skip: place.skip ?? false }, async () => {
    const source = join(dir.path, 'source.img');
    const destination = join(dir.path, 'destination.img');
    await writeImage(source, 100_000, 1);
    await writeImage(destination, 100_000, 2);
    const before = await sha256File(destination);
    const where = place.hostArgs.includes('--remote-node') ? [] : place.hostArgs;
    const r = await runBasyn(['-l', source, '-r', destination, ...where, '--remote-node', oldNode, '-a', 'PUSH', '-m', 'SYNC'], { env: place.env, timeoutMs: 30_000 });
    assert.equal(r.code, 2, describeRun(r));
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, describeRun(r));
    assert.match(lines[0]!, new RegExp(`is node v${OLD.replaceAll('.', '\\.')}, too old for basyn's agent, which needs node >= ${MIN_NODE_MAJOR}`));
    assert.equal(await sha256File(destination), before, 'the destination is untouched');
  });
}
