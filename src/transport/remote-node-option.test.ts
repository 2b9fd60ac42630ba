/**
 * --remote-node=PATH: the node program that runs the agent, on the remote host (or
 * on this machine without -h). Checked locally and over the test sshd.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runPlaces } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 2 * 1024 * 1024 + 512;
const places = await runPlaces();

let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-remote-node-');
});
after(async () => {
  await dir?.remove();
});

async function pair(): Promise<{ source: string; destination: string }> {
  n++;
  const source = join(dir.path, `s${n}.img`);
  const destination = join(dir.path, `d${n}.img`);
  await writeImage(source, SIZE, 20 + n);
  await writeImage(destination, SIZE, 200 + n);
  return { source, destination };
}

for (const place of places) {
  const skip = place.skip ?? false;

  test(`--remote-node with the real node path works ${place.name} (PUSH SYNC, then PULL COPY)`, { skip }, async () => {
    const { source, destination } = await pair();
    const push = await runBasyn(['-l', source, '-r', destination, ...place.hostArgs, `--remote-node=${process.execPath}`, '-a', 'PUSH', '-m', 'SYNC'], { env: place.env });
    assert.equal(push.code, 0, describeRun(push));
    assert.ok(await cmp(source, destination));
    const other = join(dir.path, `pulled${n}.img`);
    await writeImage(other, SIZE, 300 + n);
    const pull = await runBasyn(['-l', other, '-r', source, ...place.hostArgs, '--remote-node', process.execPath, '-a', 'PULL', '-m', 'COPY'], { env: place.env });
    assert.equal(pull.code, 0, describeRun(pull));
    assert.ok(await cmp(source, other));
  });

  test(`--remote-node with a path containing a space works ${place.name}`, { skip }, async () => {
    const { source, destination } = await pair();
    const folder = join(dir.path, `node dir ${n}`);
    await mkdir(folder);
    const node = join(folder, "it's node");
    await symlink(process.execPath, node);
    const r = await runBasyn(['-l', source, '-r', destination, ...place.hostArgs, '--remote-node', node, '-a', 'PUSH', '-m', 'SYNC'], { env: place.env });
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(await cmp(source, destination));
  });

  test(`--remote-node with a wrong path fails with exit 2 and a message naming it ${place.name}`, { skip }, async () => {
    const { source, destination } = await pair();
    const before = await sha256File(destination);
    const wrong = join(dir.path, 'no-such-dir', 'node');
    const r = await runBasyn(['-l', source, '-r', destination, ...place.hostArgs, '--remote-node', wrong, '-a', 'PUSH', '-m', 'SYNC'], { env: place.env, timeoutMs: 30_000 });
    assert.equal(r.code, 2, describeRun(r));
    assert.ok(r.stderr.includes(wrong), `the message names ${wrong}: ${r.stderr}`);
    assert.match(r.stderr, /not found/);
    assert.match(r.stderr, /--remote-node/);
    assert.equal(await sha256File(destination), before);
  });
}
