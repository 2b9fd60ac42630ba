/**
 * Zero blocks travel as a marker, not as data, in COPY and SYNC, PUSH and PULL;
 * and the regression another tool shipped: a block of zeros except its last byte,
 * or except its first byte, is not a zero block and must arrive intact.
 * What is on the wire is checked through a local agent and over the test sshd; that
 * near-zero blocks arrive intact also when basyn opens both devices itself (no wire,
 * but the zero test that lets a created destination skip writing zero blocks).
 */
import assert from 'node:assert/strict';
import { open, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, seededBytes, writeImage } from '../test-support/images.js';
import { allPlaces, describeRun } from '../test-support/run-places.js';
import { parseStat, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const places = await allPlaces();
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-zero-');
});
after(async () => {
  await dir?.remove();
});

/**
 * Bytes the data of the run needed on the wire: what the source side sent. (For a
 * run in this process, with no wire, the traffic is the bytes written instead.)
 */
function sentBySource(stdout: string, action: 'PUSH' | 'PULL'): number {
  const stat = parseStat(stdout);
  assert.ok(stat !== undefined, `a STAT line in ${stdout}`);
  return action === 'PUSH' ? stat.tx : stat.rx;
}

/** Source and destination paths for an action: PUSH copies local to remote, PULL remote to local. */
function sides(action: 'PUSH' | 'PULL', source: string, destination: string): string[] {
  return action === 'PUSH' ? ['-l', source, '-r', destination] : ['-l', destination, '-r', source];
}

const BIG_BLOCK = 1024 * 1024;
const BIG = 8 * BIG_BLOCK;

// Near-zero blocks: zeros except the last byte, zeros except the first byte; and the
// last (short) block of the device zero except its very last byte.
const BLOCK = 64 * 1024;
const TAIL = 1000;
const SIZE = 4 * BLOCK + TAIL;
const NONZERO_BYTES = 3 * BLOCK + TAIL;

function nearZeroImage(): Buffer {
  const b = Buffer.alloc(SIZE);
  b[BLOCK - 1] = 0x01; // block 0: zeros except its last byte
  b[BLOCK] = 0x80; // block 1: zeros except its first byte
  // block 2: all zeros
  seededBytes(BLOCK, 77).copy(b, 3 * BLOCK); // block 3: data
  b[SIZE - 1] = 0xff; // block 4 (short): zeros except its last byte, the device's last byte
  return b;
}

for (const place of places) {
  const skip = place.skip ?? false;

  for (const action of ['PUSH', 'PULL'] as const) {
    // Markers are a wire encoding: without an agent there is no wire.
    if (place.agent) test(`an all-zero source needs a few bytes per block on the wire ${place.name}, ${action} COPY and SYNC (--zlevel 0)`, { skip }, async () => {
      n++;
      const source = join(dir.path, `zeros${n}.img`);
      const destination = join(dir.path, `zeros${n}.dst.img`);
      await writeFile(source, '');
      await truncate(source, BIG);
      await writeImage(destination, BIG, n);
      for (const mode of ['COPY', 'SYNC']) {
        const r = await runBasyn([...sides(action, source, destination), ...place.hostArgs, '-a', action, '-m', mode, '--buffer', String(BIG_BLOCK / 1024), '--zlevel', '0', '--stat'], { env: place.env });
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(await cmp(source, destination), `${mode}: destination differs`);
        const sent = sentBySource(r.stdout, action);
        // 8 blocks of 1 MiB as markers (and, for SYNC, 8 digests the other way): far below one block.
        assert.ok(sent < 4096, `${mode}: ${sent} bytes sent for ${BIG} bytes of zeros`);
        await writeImage(destination, BIG, 100 + n);
      }
    });

    for (const mode of ['COPY', 'SYNC'] as const) {
      test(`blocks of zeros but their last or first byte arrive intact ${place.name}, ${action} ${mode}`, { skip }, async () => {
        n++;
        const source = join(dir.path, `near${n}.img`);
        const destination = join(dir.path, `near${n}.dst.img`);
        await writeFile(source, nearZeroImage());
        for (const zlevel of mode === 'COPY' ? ['0', '9'] : ['0']) {
          await writeImage(destination, SIZE, 200 + n);
          const r = await runBasyn([...sides(action, source, destination), ...place.hostArgs, '-a', action, '-m', mode, '--buffer', String(BLOCK / 1024), '--zlevel', zlevel, '--stat'], { env: place.env });
          assert.equal(r.code, 0, describeRun(r));
          assert.ok(await cmp(source, destination), `--zlevel ${zlevel}: destination differs from the source`);
          if (!place.agent) {
            // No wire: the traffic is the data written, every block of the device.
            assert.equal(sentBySource(r.stdout, action), SIZE, 'in-process traffic: the bytes written');
          } else if (zlevel === '0') {
            // Raw blocks: the four that are not all zeros travel whole, the zero block as a marker.
            const sent = sentBySource(r.stdout, action);
            assert.ok(sent >= NONZERO_BYTES && sent < NONZERO_BYTES + 4096, `${sent} bytes sent, ${NONZERO_BYTES} expected plus framing`);
          }
        }
      });
    }

    test(`near-zero blocks arrive intact in a destination made by --create ${place.name}, ${action} COPY and SYNC`, { skip }, async () => {
      n++;
      const source = join(dir.path, `near-create${n}.img`);
      const destination = join(dir.path, `near-create${n}.dst.img`);
      await writeFile(source, nearZeroImage());
      for (const mode of ['COPY', 'SYNC']) {
        await rm(destination, { force: true });
        const r = await runBasyn([...sides(action, source, destination), ...place.hostArgs, '-a', action, '-m', mode, '--buffer', String(BLOCK / 1024), '--create'], { env: place.env });
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(await cmp(source, destination), `${mode}: the created destination differs from the source`);
      }
      // And into a destination whose tail was extended by --create.
      await truncate(destination, 2 * BLOCK + 10);
      const f = await open(destination, 'r+');
      await f.write(Buffer.alloc(2 * BLOCK + 10, 0x55), 0);
      await f.close();
      const r = await runBasyn([...sides(action, source, destination), ...place.hostArgs, '-a', action, '-m', 'SYNC', '--buffer', String(BLOCK / 1024), '--create'], { env: place.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(source, destination), 'the extended destination differs from the source');
    });
  }
}
