/**
 * --write-delta renames its finished file into place, so the rule of issue 14 item 1
 * applies to it as to -b: basyn never replaces a non-empty file that is not a basyn
 * delta. An image, a text file, a bitmap, or one of the devices themselves (by its
 * path, a hard link or a symlink) named as the delta keeps every byte, and the run
 * says so in one line (same file as a device: exit 1, anything else: exit 2). A delta
 * path that is a symlink to an earlier delta writes through to its target and stays a
 * symlink. An earlier delta, or an empty file, may be replaced.
 */
import assert from 'node:assert/strict';
import { lstat, readFile, readlink, symlink, link, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DELTA_MAGIC } from './delta-format.js';
import { encodeOriginalBitmap } from '../test-support/bitmap-files.js';
import { seededBytes, sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 1024 * 1024;

async function setUp(dir: string): Promise<{ src: string; dst: string; args(delta: string): string[] }> {
  const src = join(dir, 'source.img');
  const dst = join(dir, 'destination.img');
  await writeImage(src, SIZE, 3);
  await writeImage(dst, SIZE, 4);
  return { src, dst, args: (delta) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', `--write-delta=${delta}`] };
}

const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l !== '');

describe('--write-delta never replaces a file that is not a delta', { concurrency: 2, timeout: 120_000 }, () => {
  const foreign: { name: string; bytes: Buffer }[] = [
    { name: 'a disk image', bytes: seededBytes(SIZE, 9) },
    { name: 'a text file', bytes: Buffer.from('notes\n') },
    { name: 'a bitmap', bytes: encodeOriginalBitmap(SIZE, SIZE / 16, 0, Array.from({ length: 16 }, () => Buffer.alloc(20))) },
  ];
  for (const f of foreign) {
    it(`${f.name}: exit 2, one line, the file keeps every byte`, async () => {
      const dir = await makeTempDir('basyn-delta-foreign-');
      try {
        const p = await setUp(dir.path);
        const target = join(dir.path, 'some.file');
        await writeFile(target, f.bytes);
        const run = await runBasyn(p.args(target), { timeoutMs: 60_000 });
        assert.equal(run.code, 2, describeRun(run));
        const lines = errorLines(run.stderr);
        assert.equal(lines.length, 1, run.stderr);
        assert.match(lines[0]!, /is not a basyn delta; basyn leaves it as it is/);
        assert.doesNotMatch(lines[0]!, /reset|delete|remove/i);
        assert.ok((await readFile(target)).equals(f.bytes), 'the file keeps every byte');
        assert.deepEqual((await readdir(dir.path)).filter((n) => n.endsWith('.partial')), [], 'no partial file left');
      } finally {
        await dir.remove();
      }
    });
  }

  for (const how of ['path', 'hard link', 'symlink'] as const) {
    for (const side of ['local', 'remote'] as const) {
      it(`the ${side} device by its ${how}: exit 1 before anything is opened, the device keeps every byte`, async () => {
        const dir = await makeTempDir('basyn-delta-device-');
        try {
          const p = await setUp(dir.path);
          const device = side === 'local' ? p.src : p.dst;
          let name = device;
          if (how !== 'path') {
            name = join(dir.path, 'other.name');
            await (how === 'hard link' ? link(device, name) : symlink(device, name));
          }
          const before = await sha256File(device);
          const run = await runBasyn(p.args(name), { timeoutMs: 60_000 });
          assert.equal(run.code, 1, describeRun(run));
          assert.match(run.stderr, new RegExp(`--write-delta \\S+ is the same file as the ${side} device`));
          assert.equal(await sha256File(device), before);
          if (how === 'symlink') assert.ok((await lstat(name)).isSymbolicLink(), 'the symlink stays');
        } finally {
          await dir.remove();
        }
      });
    }
  }

  it('an earlier delta behind a symlink: replaced through the symlink, which stays a symlink', async () => {
    const dir = await makeTempDir('basyn-delta-link-');
    try {
      const p = await setUp(dir.path);
      const real = join(dir.path, 'monday.delta');
      const name = join(dir.path, 'latest.delta');
      const first = await runBasyn(p.args(real), { timeoutMs: 60_000 });
      assert.equal(first.code, 0, describeRun(first));
      await symlink('monday.delta', name);
      await writeImage(p.src, SIZE, 5);
      const second = await runBasyn(p.args(name), { timeoutMs: 60_000 });
      assert.equal(second.code, 0, describeRun(second));
      assert.equal(await readlink(name), 'monday.delta', 'still a symlink to the same name');
      assert.ok((await readFile(real)).subarray(0, DELTA_MAGIC.length).equals(DELTA_MAGIC));
      // The delta now holds the new source: applying it to a copy of the destination gives it.
      const copy = join(dir.path, 'copy.img');
      await writeFile(copy, await readFile(p.dst));
      const apply = await runBasyn([`--apply-delta=${real}`, '-l', copy], { timeoutMs: 60_000 });
      assert.equal(apply.code, 0, describeRun(apply));
      assert.equal(await sha256File(copy), await sha256File(p.src));
    } finally {
      await dir.remove();
    }
  });

  it('an empty file may be replaced', async () => {
    const dir = await makeTempDir('basyn-delta-empty-');
    try {
      const p = await setUp(dir.path);
      const target = join(dir.path, 'empty.delta');
      await writeFile(target, '');
      const run = await runBasyn(p.args(target), { timeoutMs: 60_000 });
      assert.equal(run.code, 0, describeRun(run));
      assert.ok((await readFile(target)).subarray(0, DELTA_MAGIC.length).equals(DELTA_MAGIC));
    } finally {
      await dir.remove();
    }
  });
});
