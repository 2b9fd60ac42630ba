/**
 * basyn started from a working directory that another shell removed: a relative path
 * names nothing there, so it is refused with one line saying why (not "uv_cwd"), and
 * nothing is written; absolute paths work, with a bitmap (whose hashing threads need a
 * working directory) and through a local agent.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cmp, imagePair, sha256File, type ImagePair } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { LOCAL_AGENT_PLACE, IN_PROCESS_PLACE, describeRun } from '../test-support/run-places.js';
import type { BasynRun } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 4 * 1024 * 1024 + 4096;
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-no-cwd-');
});
after(async () => {
  await dir?.remove();
});

/** Runs basyn in a folder that is removed (by the shell that then becomes basyn) just before it starts. */
async function runInRemovedFolder(args: string[]): Promise<BasynRun> {
  n++;
  const folder = join(dir.path, `gone${n}`);
  await mkdir(folder);
  const script = 'cd "$0" && rmdir "$0" && exec "$@"';
  return promisify(execFile)('sh', ['-c', script, folder, process.execPath, BASYN_BIN, ...args], { timeout: 50_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, signal: null, stdout, stderr }),
    (e: { code?: number; signal?: NodeJS.Signals; stdout: string; stderr: string }) => ({ code: e.code ?? null, signal: e.signal ?? null, stdout: e.stdout, stderr: e.stderr }),
  );
}

async function pair(): Promise<ImagePair> {
  n++;
  return imagePair(dir.path, `p${n}`, SIZE, n, 'all');
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

for (const place of [IN_PROCESS_PLACE, LOCAL_AGENT_PLACE]) {
  test(`absolute paths work ${place.name}, with a bitmap (PUSH and PULL SYNC)`, { timeout: 120_000 }, async () => {
    for (const action of ['PUSH', 'PULL'] as const) {
      const { source, destination } = await pair();
      const bitmap = join(dir.path, `b${n}.bitmap`);
      const [local, remote] = action === 'PUSH' ? [source, destination] : [destination, source];
      const r = await runInRemovedFolder(['-l', local, '-r', remote, ...place.hostArgs, '-a', action, '-m', 'SYNC', '-b', bitmap]);
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(source, destination), `${action}: destination equals source`);
      assert.ok(await exists(bitmap));
    }
  });

  test(`a relative device path ${place.name}: exit 2, one line saying the working directory is gone, nothing written`, { timeout: 60_000 }, async () => {
    const { source, destination } = await pair();
    const before = await sha256File(destination);
    for (const [args, named] of [
      [['-l', 'source.img', '-r', destination], 'local device source.img'],
      [['-l', source, '-r', 'destination.img'], 'remote device destination.img'],
    ] as const) {
      const r = await runInRemovedFolder([...args, ...place.hostArgs, '-a', 'PUSH', '-m', 'SYNC']);
      assert.equal(r.code, 2, describeRun(r));
      assert.equal(r.stderr, `basyn: cannot open ${named}: it is a relative path and the working directory no longer exists (it was removed); give an absolute path or run basyn from an existing directory\n`);
    }
    assert.equal(await sha256File(destination), before);
  });
}

test('a relative bitmap path: exit 2, one line, destination and bitmap untouched', { timeout: 60_000 }, async () => {
  const { source, destination } = await pair();
  const before = await sha256File(destination);
  const r = await runInRemovedFolder(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '-b', 'sync.bitmap']);
  assert.equal(r.code, 2, describeRun(r));
  assert.match(r.stderr, /^basyn: cannot open bitmap sync\.bitmap: it is a relative path and the working directory no longer exists/);
  assert.doesNotMatch(r.stderr, /uv_cwd|unexpected/);
  assert.equal(await sha256File(destination), before);
});
