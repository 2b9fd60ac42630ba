/**
 * A block device that is mounted or held by another program (an O_EXCL opener, as
 * device-mapper and md are) is never written: a COPY onto it exits 2 with one line
 * naming the device and the cause, and the device keeps every byte; locally, through
 * the local agent and over ssh. What does not write is not refused: the mounted device
 * as a source, a --dry-run or a --recheck against it. Another basyn writer is waited
 * for as before, not taken for another program; and once the device is free again,
 * basyn writes it. Real loop devices, a real ext4 mount (root, losetup, mkfs.ext4).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cmp, seededImage, sha256File } from '../test-support/images.js';
import { attachLoop } from '../test-support/loop-device.js';
import { runBasyn, type BasynRun } from '../test-support/run-basyn.js';
import { allPlaces, describeRun, type RunPlace } from '../test-support/run-places.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const execFileAsync = promisify(execFile);
const SIZE = 16 * 1024 * 1024;
const BUSY = /is mounted or in use by another program \(EBUSY\); basyn refuses to write to it/;

const places = await allPlaces();
const dir = tempDirForFile('basyn-busy-');
let n = 0;

/** A loop device over a fresh image (detached when the test ends), or undefined after a visible skip. */
async function loopOrSkip(t: TestContext, seed: number): Promise<string | undefined> {
  n++;
  const backing = join(dir.path, `backing${n}.img`);
  await writeFile(backing, seededImage(SIZE, seed));
  const loop = await attachLoop(backing);
  if (typeof loop === 'string') {
    t.skip(`no loop device: ${loop}`);
    return undefined;
  }
  t.after(() => loop.detach());
  return loop.path;
}

/** The loop device with an ext4 mounted on a new folder (unmounted when the test ends). */
async function mountedOrSkip(t: TestContext): Promise<{ device: string; unmount(): Promise<void> } | undefined> {
  try {
    await execFileAsync('sh', ['-c', 'command -v mkfs.ext4']);
  } catch {
    t.skip('mkfs.ext4 is not installed (apt-get install e2fsprogs)');
    return undefined;
  }
  const device = await loopOrSkip(t, 1);
  if (device === undefined) return undefined;
  // Inode tables and journal initialised now, not by a kernel thread while the test runs.
  await execFileAsync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device]);
  const mountPoint = join(dir.path, `mnt${n}`);
  await mkdir(mountPoint);
  await execFileAsync('mount', ['-t', 'ext4', device, mountPoint]);
  let mounted = true;
  const unmount = async (): Promise<void> => {
    if (mounted) await execFileAsync('umount', [mountPoint]);
    mounted = false;
  };
  t.after(unmount);
  await writeFile(join(mountPoint, 'a file'), 'kept\n');
  await execFileAsync('sync');
  return { device, unmount };
}

/** Another program holding the device open with O_EXCL until it is killed. */
async function holdExclusively(t: TestContext, device: string): Promise<ChildProcess> {
  const holder = spawn(process.execPath, ['-e', `
    const fs = require('node:fs');
    fs.openSync(process.argv[1], fs.constants.O_RDONLY | fs.constants.O_EXCL);
    process.stdout.write('held\\n');
    setInterval(() => {}, 1000);
  `, device], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void holder.kill('SIGKILL'));
  const [chunk] = (await once(holder.stdout!, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'held\n', 'the holder did not open the device');
  return holder;
}

function sides(place: RunPlace, action: 'PUSH' | 'PULL', image: string, device: string): string[] {
  return action === 'PUSH' ? ['-l', image, '-r', device, ...place.hostArgs] : ['-l', device, '-r', image, ...place.hostArgs];
}

function assertRefused(t: TestContext, r: BasynRun, device: string): void {
  assert.equal(r.code, 2, describeRun(r));
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line: ${JSON.stringify(r.stderr)}`);
  t.diagnostic(lines[0]!);
  assert.match(lines[0]!, /^basyn: /);
  assert.ok(lines[0]!.includes(device), `the line does not name ${device}`);
  assert.match(lines[0]!, BUSY);
}

async function imageOf(seed: number): Promise<string> {
  const image = join(dir.path, `image${n}-${seed}.img`);
  await writeFile(image, seededImage(SIZE, seed));
  return image;
}

for (const place of places) {
  const skip = place.skip ?? false;
  // Without -h a device on either side is opened by basyn itself: a mounted -l as the
  // destination of a PULL is tested there too.
  const actions = place.agent ? (['PUSH'] as const) : (['PUSH', 'PULL'] as const);

  for (const action of actions) {
    test(`a COPY onto a block device with a mounted ext4 is refused, nothing written, ${place.name}, ${action}`, { skip }, async (t) => {
      const mounted = await mountedOrSkip(t);
      if (mounted === undefined) return;
      const image = await imageOf(100);
      const before = await sha256File(mounted.device);
      const r = await runBasyn([...sides(place, action, image, mounted.device), '-a', action, '-m', 'COPY'], { env: place.env });
      assertRefused(t, r, mounted.device);
      assert.equal(await sha256File(mounted.device), before, 'the mounted device changed');

      // Unmounted, the same device is written.
      await mounted.unmount();
      const again = await runBasyn([...sides(place, action, image, mounted.device), '-a', action, '-m', 'COPY'], { env: place.env });
      assert.equal(again.code, 0, describeRun(again));
      assert.ok(await cmp(image, mounted.device), 'cmp: the unmounted device was not written');
    });
  }

  test(`a block device held with O_EXCL by another program is refused, nothing written, then written once it is free, ${place.name}`, { skip }, async (t) => {
    const device = await loopOrSkip(t, 2);
    if (device === undefined) return;
    const holder = await holdExclusively(t, device);
    const image = await imageOf(200);
    const before = await sha256File(device);
    for (const mode of ['COPY', 'SYNC']) {
      const r = await runBasyn([...sides(place, 'PUSH', image, device), '-a', 'PUSH', '-m', mode], { env: place.env });
      assertRefused(t, r, device);
    }
    assert.equal(await sha256File(device), before, 'the held device changed');
    holder.kill('SIGKILL');
    await once(holder, 'close');
    const r = await runBasyn([...sides(place, 'PUSH', image, device), '-a', 'PUSH', '-m', 'SYNC', '--recheck'], { env: place.env });
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(await cmp(image, device));
  });

  test(`a mounted block device is still read: as a source, by --dry-run and by --recheck ${place.name}`, { skip }, async (t) => {
    const mounted = await mountedOrSkip(t);
    if (mounted === undefined) return;
    const before = await sha256File(mounted.device);
    // As the source of a PULL (-r) it is read over the agent; as -l of a PUSH, locally.
    const copy = join(dir.path, `copy${n}.img`);
    await writeFile(copy, Buffer.alloc(SIZE));
    const read = place.agent
      ? await runBasyn(['-l', copy, '-r', mounted.device, ...place.hostArgs, '-a', 'PULL', '-m', 'SYNC'], { env: place.env })
      : await runBasyn(['-l', mounted.device, '-r', copy, '-a', 'PUSH', '-m', 'SYNC'], { env: place.env });
    assert.equal(read.code, 0, describeRun(read));
    assert.ok(await cmp(mounted.device, copy), 'cmp: the copy of the mounted device differs');

    const image = await imageOf(300);
    const dry = await runBasyn([...sides(place, 'PUSH', image, mounted.device), '-a', 'PUSH', '-m', 'SYNC', '--dry-run'], { env: place.env });
    assert.equal(dry.code, 2, describeRun(dry));
    assert.match(dry.stderr, /dry run: \d+ of \d+ blocks differ/);
    const recheck = await runBasyn([...sides(place, 'PUSH', image, mounted.device), '--recheck'], { env: place.env });
    assert.equal(recheck.code, 2, describeRun(recheck));
    assert.match(recheck.stderr, /recheck failed/);
    assert.equal(await sha256File(mounted.device), before, 'the mounted device changed');
  });

  test(`another basyn writer of the block device is waited for, not refused as another program, ${place.name}`, { skip }, async (t) => {
    const device = await loopOrSkip(t, 3);
    if (device === undefined) return;
    // What the agent of a run that was just killed looks like while it finishes its
    // writes: basyn's writer lock and an exclusive open, both let go a moment later.
    const lockModule = fileURLToPath(new URL('./device-lock.js', import.meta.url));
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `
      import { openSync, closeSync, statSync, constants } from 'node:fs';
      const { lockDevice } = await import(${JSON.stringify(lockModule)});
      const path = process.argv[1];
      const lock = await lockDevice(statSync(path), 0, () => new Error('basyn lock busy'));
      const fd = openSync(path, constants.O_RDWR | constants.O_EXCL);
      process.stdout.write('held\\n');
      setTimeout(async () => { closeSync(fd); await lock?.release(); }, 2000);
    `, device], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => void holder.kill('SIGKILL'));
    const [chunk] = (await once(holder.stdout!, 'data')) as [Buffer];
    assert.equal(chunk.toString(), 'held\n');
    const image = await imageOf(400);
    const r = await runBasyn([...sides(place, 'PUSH', image, device), '-a', 'PUSH', '-m', 'COPY'], { env: place.env });
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(await cmp(image, device));
  });
}
