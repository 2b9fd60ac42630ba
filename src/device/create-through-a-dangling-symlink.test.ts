/**
 * --create onto a symlink that points to nothing creates the file it points to (as a
 * shell's `>` or cp would), keeps the link, and syncs through it; a target that cannot
 * be created fails with one line naming the target. Locally, through a local agent
 * and over ssh; PUSH (remote destination) and PULL (local destination).
 */
import assert from 'node:assert/strict';
import { lstat, mkdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, writeImage } from '../test-support/images.js';
import { allPlaces, describeRun } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 3 * 1024 * 1024 + 512;
const places = await allPlaces();
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-create-link-');
});
after(async () => {
  await dir?.remove();
});

for (const place of places) {
  for (const action of ['PUSH', 'PULL'] as const) {
    test(`${action} --create onto a dangling symlink ${place.name} creates its target and keeps the link`, { skip: place.skip ?? false, timeout: 60_000 }, async () => {
      n++;
      const folder = join(dir.path, `case${n}`);
      await mkdir(join(folder, 'images'), { recursive: true });
      const source = join(folder, 'source.img');
      await writeImage(source, SIZE, n);
      const link = join(folder, 'destination.img');
      // A relative link, resolved from the link's folder, not from anyone's working directory.
      await symlink('images/real.img', link);
      const [local, remote] = action === 'PUSH' ? [source, link] : [link, source];
      const r = await runBasyn(['-l', local, '-r', remote, ...place.hostArgs, '-a', action, '-m', 'SYNC', '--create'], { env: place.env, timeoutMs: 50_000 });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok((await lstat(link)).isSymbolicLink(), 'the link is still a link');
      assert.equal(await readlink(link), 'images/real.img');
      assert.ok((await lstat(join(folder, 'images', 'real.img'))).isFile());
      assert.ok(await cmp(source, join(folder, 'images', 'real.img')), 'the target holds the source');
    });

    test(`${action} --create onto a symlink to a missing folder ${place.name}: exit 2, one line naming the target`, { skip: place.skip ?? false, timeout: 60_000 }, async () => {
      n++;
      const folder = join(dir.path, `case${n}`);
      await mkdir(folder);
      const source = join(folder, 'source.img');
      await writeImage(source, SIZE, n);
      const link = join(folder, 'destination.img');
      const target = join(folder, 'no such folder', 'real.img');
      await symlink(target, link);
      const [local, remote] = action === 'PUSH' ? [source, link] : [link, source];
      const r = await runBasyn(['-l', local, '-r', remote, ...place.hostArgs, '-a', action, '-m', 'SYNC', '--create'], { env: place.env, timeoutMs: 50_000 });
      assert.equal(r.code, 2, describeRun(r));
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(`cannot create the symlink's target ${target}: `), r.stderr);
      assert.match(r.stderr, /no such file or directory/i);
      assert.doesNotMatch(r.stderr, /EEXIST/);
      assert.equal(await readlink(link), target, 'the link is untouched');
    });
  }
}
