/**
 * Block devices: stat() says 0 bytes for one, so the size must come from sysfs.
 * Unit tests of the dev_t split and the sysfs reading, then real loop devices
 * (root and losetup): PUSH SYNC from an image to a loop device and PULL back,
 * locally and over SSH, with the size read right and cmp on the devices.
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cmp, scribble, seededImage, sha256File } from '../test-support/images.js';
import { attachLoop, type LoopDevice } from '../test-support/loop-device.js';
import { describeRun, parseStat, runBasyn } from '../test-support/run-basyn.js';
import { bothTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { blockDeviceSize, splitDeviceNumber } from './device-size.js';

/** glibc's makedev, to build test values. */
function makedev(major: number, minor: number): number {
  const dev = (BigInt(major & 0xfff) << 8n) | BigInt(minor & 0xff) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n);
  return Number(dev);
}

// Before any test is declared: the runner starts declared tests while the module awaits.
const targets = await bothTargets();
const dir = tempDirForFile();

describe('block device size from sysfs', () => {
  test('splitDeviceNumber undoes makedev for small and large numbers', () => {
    for (const [major, minor] of [[8, 1], [7, 0], [259, 3], [253, 255], [254, 256], [4095, 1048575]] as const) {
      assert.deepEqual(splitDeviceNumber(makedev(major, minor)), { major, minor }, `${major}:${minor}`);
    }
  });

  test('blockDeviceSize reads 512-byte sectors from /sys/dev/block/MAJ:MIN/size', async () => {
    const sys = join(dir.path, 'sys');
    await mkdir(join(sys, 'dev', 'block', '259:3'), { recursive: true });
    await writeFile(join(sys, 'dev', 'block', '259:3', 'size'), '1953525168\n');
    assert.equal(await blockDeviceSize(makedev(259, 3), sys), 1953525168 * 512);
  });

  test('blockDeviceSize refuses an unreadable sector count', async () => {
    const sys = join(dir.path, 'sys-bad');
    await mkdir(join(sys, 'dev', 'block', '7:9'), { recursive: true });
    await writeFile(join(sys, 'dev', 'block', '7:9', 'size'), 'lots\n');
    await assert.rejects(blockDeviceSize(makedev(7, 9), sys));
  });
});

// Loop devices round sizes down to 512 bytes; this is not a multiple of any buffer.
const SIZE = 6 * 1024 * 1024 + 3 * 512;
const loops: LoopDevice[] = [];
after(async () => {
  for (const l of loops) await l.detach();
});

/** A loop device over a fresh image of `size` bytes, or undefined after a visible skip. */
async function loopOver(t: TestContext, name: string, size: number, seed: number): Promise<{ loop: string; backing: string } | undefined> {
  const backing = join(dir.path, name);
  await writeFile(backing, seededImage(size, seed));
  const loop = await attachLoop(backing);
  if (typeof loop === 'string') {
    t.skip(`no loop device: ${loop}`);
    return undefined;
  }
  loops.push(loop);
  return { loop: loop.path, backing };
}

let n = 0;
for (const { target, skip } of targets) {
  describe(`loop block devices over ${target.name}`, { skip }, () => {
    test('PUSH SYNC from an image to a loop device, then PULL it back', async (t) => {
      n++;
      const dev = await loopOver(t, `loop-${n}.img`, SIZE, 500 + n);
      if (dev === undefined) return;
      assert.equal((await stat(dev.loop)).size, 0, 'stat() of a block device is expected to say 0');
      const image = join(dir.path, `image-${n}.img`);
      await writeFile(image, seededImage(SIZE, 500 + n));
      await scribble(image, [0, 1024 * 1024 + 5, SIZE - 1], 1, n);

      const push = await runBasyn(['-l', image, '-r', dev.loop, ...target.args, '-a', 'PUSH', '-m', 'SYNC', '--buffer=256', '--stat', '--verbose'], { env: target.env });
      assert.equal(push.code, 0, describeRun(push));
      assert.match(push.stdout, new RegExp(`remote device ${dev.loop}.*: ${SIZE} bytes \\(block device\\)`));
      assert.equal(parseStat(push.stdout)?.size, SIZE);
      assert.ok(await cmp(image, dev.loop), 'cmp: the loop device differs from the image');

      const back = join(dir.path, `back-${n}.img`);
      await writeFile(back, Buffer.alloc(SIZE));
      const pull = await runBasyn(['-l', back, '-r', dev.loop, ...target.args, '-a', 'PULL', '-m', 'SYNC', '--chunk=16', '--buffer=64', '--recheck'], { env: target.env });
      assert.equal(pull.code, 0, describeRun(pull));
      assert.ok(await cmp(back, dev.loop), 'cmp: the pulled image differs from the loop device');
      assert.ok(await cmp(back, image));
      // What the block device holds is what its backing file holds.
      assert.ok(await cmp(dev.backing, image), 'the backing file of the loop device does not hold the image');
    });

    test('a loop device as -l: PULL COPY into it and PUSH SYNC out of it', async (t) => {
      n++;
      const dev = await loopOver(t, `loop-${n}.img`, SIZE, 600 + n);
      if (dev === undefined) return;
      const image = join(dir.path, `image-${n}.img`);
      await writeFile(image, seededImage(SIZE, 700 + n));
      const pull = await runBasyn(['-l', dev.loop, '-r', image, ...target.args, '-a', 'PULL', '-m', 'COPY', '--verbose'], { env: target.env });
      assert.equal(pull.code, 0, describeRun(pull));
      assert.match(pull.stdout, new RegExp(`local device ${dev.loop}: ${SIZE} bytes \\(block device\\)`));
      assert.ok(await cmp(image, dev.loop));

      const copy = join(dir.path, `copy-${n}.img`);
      await writeFile(copy, seededImage(SIZE, 1));
      const push = await runBasyn(['-l', dev.loop, '-r', copy, ...target.args, '-a', 'PUSH', '-m', 'SYNC'], { env: target.env });
      assert.equal(push.code, 0, describeRun(push));
      assert.ok(await cmp(dev.loop, copy));
    });

    test('a loop device smaller than the source is refused (exit 2, unchanged)', async (t) => {
      n++;
      const dev = await loopOver(t, `loop-${n}.img`, SIZE - 512, 800 + n);
      if (dev === undefined) return;
      const image = join(dir.path, `image-${n}.img`);
      await writeFile(image, seededImage(SIZE, 900 + n));
      const before = await sha256File(dev.loop);
      const r = await runBasyn(['-l', image, '-r', dev.loop, ...target.args, '-a', 'PUSH', '-m', 'COPY'], { env: target.env });
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, new RegExp(`${SIZE - 512} bytes`), 'the block device size is not reported right');
      assert.equal(await sha256File(dev.loop), before);
    });

    test('a loop device larger than the source: the image size is synced, the rest untouched', async (t) => {
      n++;
      const dev = await loopOver(t, `loop-${n}.img`, SIZE + 64 * 1024, 1000 + n);
      if (dev === undefined) return;
      const image = join(dir.path, `image-${n}.img`);
      await writeFile(image, seededImage(SIZE, 1100 + n));
      const r = await runBasyn(['-l', image, '-r', dev.loop, ...target.args, '-a', 'PUSH', '-m', 'SYNC', '--stat', '--recheck'], { env: target.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(parseStat(r.stdout)?.size, SIZE);
      assert.ok(await cmp(image, dev.loop, SIZE));
      const tail = seededImage(SIZE + 64 * 1024, 1000 + n).subarray(SIZE);
      assert.ok((await readFile(dev.backing)).subarray(SIZE).equals(tail), 'bytes past the synced size changed');
    });
  });
}
