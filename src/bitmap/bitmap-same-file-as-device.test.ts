/**
 * A bitmap path that is the same file as either device (the same path, a symlink to
 * it, a hard link of it) is a usage error: exit 1 before anything is opened, every
 * byte of both devices kept, no lock file made. Checked for the local device and for
 * the remote one whenever it is on this machine (in-process or through a local agent);
 * over ssh the remote device's file can't be compared (see the README).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { link, readdir, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { errorLines } from '../test-support/bitmap-files.js';
import { sha256File, writeImage } from '../test-support/images.js';
import { IN_PROCESS_PLACE, LOCAL_AGENT_PLACE } from '../test-support/run-places.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 1024 * 1024;
type Name = 'the same path' | 'a symlink' | 'a hard link' | 'a symlink to a symlink';

async function nameFor(dir: string, device: string, how: Name): Promise<string> {
  if (how === 'the same path') return device;
  const name = join(dir, `bitmap-${how.replaceAll(' ', '-')}`);
  if (how === 'a symlink') await symlink(basename(device), name);
  if (how === 'a hard link') await link(device, name);
  if (how === 'a symlink to a symlink') {
    await symlink(device, `${name}.first`);
    await symlink(`${name}.first`, name);
  }
  return name;
}

describe('-b naming one of the devices', { concurrency: 2, timeout: 300_000 }, () => {
  for (const place of [IN_PROCESS_PLACE, LOCAL_AGENT_PLACE]) {
    for (const side of ['local', 'remote'] as const) {
      for (const action of ['PUSH', 'PULL'] as const) {
        for (const how of ['the same path', 'a symlink', 'a hard link', 'a symlink to a symlink'] as Name[]) {
          const role = (side === 'local') === (action === 'PUSH') ? 'source' : 'destination';
          it(`${how} to the ${side} device (the ${role}) of a ${action}, ${place.name}, with --reset-bitmap: exit 1, nothing touched`, async () => {
            const dir = await makeTempDir('basyn-samefile-');
            try {
              const local = join(dir.path, 'local.img');
              const remote = join(dir.path, 'remote.img');
              await writeImage(local, SIZE, 31);
              await writeImage(remote, SIZE, 32);
              const before = [await sha256File(local), await sha256File(remote)];
              const device = side === 'local' ? local : remote;
              const bitmap = await nameFor(dir.path, device, how);
              const listing = (await readdir(dir.path)).sort();
              const run = await runBasyn(
                ['-l', local, '-r', remote, '-a', action, '-m', 'SYNC', '-b', bitmap, '--reset-bitmap', ...place.hostArgs],
                { env: place.env, timeoutMs: 60_000 },
              );
              assert.equal(run.code, 1, describeRun(run));
              const lines = errorLines(run.stderr);
              assert.equal(lines.length, 1, run.stderr);
              assert.match(lines[0]!, new RegExp(`is the same file as the ${side} device`));
              assert.ok(lines[0]!.includes(bitmap), 'names the bitmap path');
              assert.deepEqual([await sha256File(local), await sha256File(remote)], before, 'both devices keep every byte');
              assert.deepEqual((await readdir(dir.path)).sort(), listing, 'no lock file or other file made');
            } finally {
              await dir.remove();
            }
          });
        }
      }
    }
  }

  it('without a destination (a bitmap-only run), -b naming the source is refused too', async () => {
    const dir = await makeTempDir('basyn-samefile-');
    try {
      const local = join(dir.path, 'local.img');
      await writeImage(local, SIZE, 33);
      const before = await sha256File(local);
      for (const extra of [[], ['--reset-bitmap'], ['--dry-run']]) {
        const run = await runBasyn(['-l', local, '-a', 'PUSH', '-m', 'SYNC', '-b', local, ...extra], { timeoutMs: 60_000 });
        assert.equal(run.code, 1, describeRun(run));
        assert.match(run.stderr, /is the same file as the local device/);
        assert.equal(await sha256File(local), before);
      }
    } finally {
      await dir.remove();
    }
  });

  it('-b naming the destination that --create would make is refused before it is made', async () => {
    const dir = await makeTempDir('basyn-samefile-');
    try {
      const local = join(dir.path, 'local.img');
      const remote = join(dir.path, 'new.img');
      await writeImage(local, SIZE, 34);
      await symlink('new.img', join(dir.path, 'dangling'));
      for (const bitmap of [remote, join(dir.path, 'dangling')]) {
        const run = await runBasyn(['-l', local, '-r', remote, '-a', 'PUSH', '-m', 'SYNC', '--create', '-b', bitmap], { timeoutMs: 60_000 });
        assert.equal(run.code, 1, describeRun(run));
        assert.match(run.stderr, /is the same file as the remote device/);
        assert.equal(existsSync(remote), false, 'the destination was not created');
      }
    } finally {
      await dir.remove();
    }
  });
});
