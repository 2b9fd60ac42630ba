/**
 * `~` and `~/` at the start of the remote path (-r) are the home directory of the user
 * who opens the remote device, as in scp and rsync: over ssh the remote user's (from
 * the remote session, whatever HOME basyn itself has), without -h this user's. `~user`
 * is refused with one line rather than taken as a file name.
 */
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, writeImage } from '../test-support/images.js';
import { allPlaces, describeRun } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 2 * 1024 * 1024 + 4096;
const places = await allPlaces();
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-tilde-');
});
after(async () => {
  await dir?.remove();
});

for (const place of places) {
  for (const action of ['PUSH', 'PULL'] as const) {
    test(`-r '~/NAME' ${place.name} (${action}) is NAME in the home directory of the user opening it`, { skip: place.skip ?? false, timeout: 60_000 }, async () => {
      n++;
      // basyn's own HOME is a folder of its own: over ssh the remote session's must be used instead.
      const localHome = join(dir.path, `home${n}`);
      const home = place.sshd !== undefined ? userInfo().homedir : localHome;
      const name = `basyn-tilde-test-${process.pid}-${n}.img`;
      const source = join(dir.path, `source${n}.img`);
      const other = join(home, name);
      await writeImage(source, SIZE, n);
      try {
        await mkdir(localHome);
        const args = action === 'PUSH'
          ? ['-l', source, '-r', `~/${name}`, '--create']
          : ['-l', join(dir.path, `pulled${n}.img`), '-r', `~/${name}`, '--create'];
        if (action === 'PULL') await writeImage(other, SIZE, 50 + n);
        const r = await runBasyn([...args, ...place.hostArgs, '-a', action, '-m', 'SYNC'], { env: { ...place.env, HOME: localHome }, timeoutMs: 50_000 });
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(action === 'PUSH' ? await cmp(source, other) : await cmp(other, join(dir.path, `pulled${n}.img`)));
      } finally {
        await rm(other, { force: true });
      }
    });
  }

  test(`-r '~user/NAME' ${place.name} is refused with one line`, { skip: place.skip ?? false, timeout: 60_000 }, async () => {
    n++;
    const source = join(dir.path, `source${n}.img`);
    await writeImage(source, SIZE, n);
    const r = await runBasyn(['-l', source, '-r', '~root/x.img', ...place.hostArgs, '-a', 'PUSH', '-m', 'SYNC', '--create'], { env: place.env, timeoutMs: 50_000 });
    assert.equal(r.code, 2, describeRun(r));
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /cannot open remote device ~root\/x\.img.*: ~user is not expanded \(only ~ and ~\/ are\); give the full path/);
  });
}
