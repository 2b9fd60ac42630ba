/**
 * --create: a missing destination image is created with the source size (PUSH: the
 * remote file, PULL: the local one) and synced; a smaller one is extended; zero
 * blocks are not written where the new space already reads zeros, so the image
 * stays sparse. Without --create a missing or smaller destination is an error, and
 * --create never applies to a block device. Locally and over the test sshd.
 */
import assert from 'node:assert/strict';
import { access, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, seededBytes, seededImage, sha256File } from '../test-support/images.js';
import { attachLoop } from '../test-support/loop-device.js';
import { describeRun, jsonOf, runPlaces } from '../test-support/run-places.js';
import { parseStat, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const BLOCK = 1024 * 1024;
const SIZE = 8 * BLOCK + 4096;
/** Blocks of the source holding data; the others (and the short last one) are zeros. */
const DATA_BLOCKS = [0, 5];

const places = await runPlaces();
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-create-');
});
after(async () => {
  await dir?.remove();
});

/** Half zeros: a sparse image's typical content. */
async function halfZeroSource(): Promise<string> {
  n++;
  const b = Buffer.alloc(SIZE);
  for (const i of DATA_BLOCKS) seededBytes(BLOCK, 500 + n + i).copy(b, i * BLOCK);
  const path = join(dir.path, `source${n}.img`);
  await writeFile(path, b);
  return path;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Bytes the file system allocated for a file. */
async function allocated(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

function sides(action: 'PUSH' | 'PULL', source: string, destination: string): string[] {
  return action === 'PUSH' ? ['-l', source, '-r', destination] : ['-l', destination, '-r', source];
}

for (const place of places) {
  const skip = place.skip ?? false;

  for (const action of ['PUSH', 'PULL'] as const) {
    const destinationSide = action === 'PUSH' ? 'remote' : 'local';

    test(`--create makes a missing destination with the source size and syncs it, writing no zero block ${place.name}, ${action} SYNC`, { skip }, async () => {
      const source = await halfZeroSource();
      const destination = join(dir.path, `created${n}.img`);
      const r = await runBasyn([...sides(action, source, destination), ...place.hostArgs, '-a', action, '-m', 'SYNC', '--buffer', String(BLOCK / 1024), '--create', '--json'], { env: place.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal((await stat(destination)).size, SIZE);
      assert.ok(await cmp(source, destination));
      const j = jsonOf(r);
      assert.equal(j[destinationSide].size, SIZE);
      assert.equal(j[destinationSide].bytesWritten, DATA_BLOCKS.length * BLOCK, 'only the data blocks are written');
      assert.ok(await allocated(destination) < SIZE / 2, `the new image stays sparse: ${await allocated(destination)} bytes allocated`);
    });

    test(`--create makes a missing destination and COPYs into it, writing no zero block ${place.name}, ${action} COPY (--debug figures)`, { skip }, async () => {
      const source = await halfZeroSource();
      const destination = join(dir.path, `created${n}.img`);
      const r = await runBasyn([...sides(action, source, destination), ...place.hostArgs, '-a', action, '-m', 'COPY', '--buffer', String(BLOCK / 1024), '--create', '--debug', '--stat'], { env: place.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(source, destination));
      const m = new RegExp(`debug: ${destinationSide} device read \\d+ bytes, wrote (\\d+) bytes`).exec(r.stderr);
      assert.ok(m !== null, r.stderr);
      assert.equal(Number(m[1]), DATA_BLOCKS.length * BLOCK);
      if (!place.agent) {
        // In-process the traffic is the bytes written: the zero blocks --create skips don't count.
        const st = parseStat(r.stdout);
        const written = DATA_BLOCKS.length * BLOCK;
        assert.deepEqual(st && { rx: st.rx, tx: st.tx }, action === 'PUSH' ? { rx: 0, tx: written } : { rx: written, tx: 0 }, r.stdout);
      }
      assert.ok(await allocated(destination) < SIZE / 2, `the new image stays sparse: ${await allocated(destination)} bytes allocated`);
    });

    test(`--create extends a smaller destination to the source size ${place.name}, ${action} SYNC`, { skip }, async () => {
      const source = await halfZeroSource();
      const destination = join(dir.path, `smaller${n}.img`);
      await writeFile(destination, seededImage(3 * BLOCK + 100, 900 + n));
      const r = await runBasyn([...sides(action, source, destination), ...place.hostArgs, '-a', action, '-m', 'SYNC', '--buffer', String(BLOCK / 1024), '--create', '--json'], { env: place.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal((await stat(destination)).size, SIZE);
      assert.ok(await cmp(source, destination));
      // Blocks 0-3 held old data and are rewritten (zeros too); of the extended part only block 5.
      assert.equal(jsonOf(r)[destinationSide].bytesWritten, 5 * BLOCK);
    });

    test(`--create leaves a larger destination its size ${place.name}, ${action} SYNC`, { skip }, async () => {
      const source = await halfZeroSource();
      const destination = join(dir.path, `larger${n}.img`);
      await writeFile(destination, seededImage(SIZE + 3 * BLOCK, 950 + n));
      const r = await runBasyn([...sides(action, source, destination), ...place.hostArgs, '-a', action, '-m', 'SYNC', '--buffer', String(BLOCK / 1024), '--create'], { env: place.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.equal((await stat(destination)).size, SIZE + 3 * BLOCK);
      assert.ok(await cmp(source, destination, SIZE));
    });

    test(`without --create, a missing or smaller destination is exit 2 and nothing is created or changed ${place.name}, ${action}`, { skip }, async () => {
      const source = await halfZeroSource();
      const missing = join(dir.path, `missing${n}.img`);
      const r1 = await runBasyn([...sides(action, source, missing), ...place.hostArgs, '-a', action, '-m', 'SYNC'], { env: place.env });
      assert.equal(r1.code, 2, describeRun(r1));
      assert.match(r1.stderr, new RegExp(`cannot open ${destinationSide} device .*ENOENT`));
      assert.equal(await exists(missing), false);
      const smaller = join(dir.path, `smaller${n}.img`);
      await writeFile(smaller, seededImage(3 * BLOCK, 990 + n));
      const before = await sha256File(smaller);
      const r2 = await runBasyn([...sides(action, source, smaller), ...place.hostArgs, '-a', action, '-m', 'COPY'], { env: place.env });
      assert.equal(r2.code, 2, describeRun(r2));
      assert.match(r2.stderr, new RegExp(`cannot ${action}: .* is smaller than`));
      assert.equal(await sha256File(smaller), before);
      assert.equal((await stat(smaller)).size, 3 * BLOCK);
    });

    test(`--create with a block device destination is exit 2 with a clear error ${place.name}, ${action}`, { skip }, async (t) => {
      const source = await halfZeroSource();
      const image = join(dir.path, `loop${n}.img`);
      await writeFile(image, seededImage(SIZE, 1000 + n));
      const loop = await attachLoop(image);
      if (typeof loop === 'string') {
        if (process.env.CI === 'true') assert.fail(`a loop device is needed in CI: ${loop}`);
        t.skip(`no loop device: ${loop}`);
        return;
      }
      try {
        const before = await sha256File(image);
        const r = await runBasyn([...sides(action, source, loop.path), ...place.hostArgs, '-a', action, '-m', 'SYNC', '--buffer', String(BLOCK / 1024), '--create'], { env: place.env });
        assert.equal(r.code, 2, describeRun(r));
        assert.ok(r.stderr.includes(loop.path), r.stderr);
        assert.match(r.stderr, /--create applies to image files, and this is a block device/);
        assert.equal(await sha256File(image), before);
      } finally {
        await loop.detach();
      }
    });
  }
}
