/**
 * --dry-run with SYNC (plain, --chunk, with a bitmap): nothing is written (not the
 * destination, not the bitmap), every differing block or chunk is listed, the bytes
 * a real run would send are reported (and a real run then sends exactly those);
 * exit 0 when identical, 2 when not. Locally and over the test sshd.
 */
import assert from 'node:assert/strict';
import { access, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, scribble, sha256File, writeImage } from '../test-support/images.js';
import { describeRun, jsonOf, runPlaces, type RunPlace } from '../test-support/run-places.js';
import { runBasyn, type BasynRun } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const BLOCK = 128 * 1024;
const CHUNK = 32 * 1024;
const SIZE = 16 * BLOCK + 3000;
const LAST = 16;
const BUFFER = ['--buffer', String(BLOCK / 1024)];

interface Span {
  offset: number;
  length: number;
}

const places = await runPlaces();
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-dry-run-');
});
after(async () => {
  await dir?.remove();
});

/** Identical images, then `changes` (offsets) made to the source. */
async function pair(changes: number[]): Promise<{ source: string; destination: string }> {
  n++;
  const source = join(dir.path, `s${n}.img`);
  const destination = join(dir.path, `d${n}.img`);
  await writeImage(source, SIZE, 60 + n);
  await copyFile(source, destination);
  await scribble(source, changes, 10, 600 + n);
  return { source, destination };
}

/** The unit (block or chunk) of `size` holding each changed offset, in order. */
function spans(changes: number[], size: number): Span[] {
  const out = new Map<number, Span>();
  for (const at of changes) {
    const offset = Math.floor(at / size) * size;
    out.set(offset, { offset, length: Math.min(size, SIZE - offset) });
  }
  return [...out.values()].sort((a, b) => a.offset - b.offset);
}

/** The `differs:` lines, in offset order (with --chunk, blocks are compared again concurrently). */
function listed(r: BasynRun): Span[] {
  return sorted([...r.stdout.matchAll(/^differs: offset (\d+) length (\d+)$/gm)].map((m) => ({ offset: Number(m[1]), length: Number(m[2]) })));
}

function sorted(s: Span[]): Span[] {
  return [...s].sort((a, b) => a.offset - b.offset);
}

const total = (s: Span[]): number => s.reduce((sum, x) => sum + x.length, 0);

/** Runs basyn with the place's host options. */
function basyn(place: RunPlace, args: string[]): Promise<BasynRun> {
  return runBasyn([...args, ...place.hostArgs], { env: place.env });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

for (const place of places) {
  const skip = place.skip ?? false;

  test(`--dry-run PUSH SYNC ${place.name}: lists every differing block, writes nothing, exit 2; a real run sends the bytes it reported`, { skip }, async () => {
    const changes = [2 * BLOCK + 5, 9 * BLOCK + BLOCK - 10, LAST * BLOCK + 2000];
    const { source, destination } = await pair(changes);
    const expected = spans(changes, BLOCK);
    const before = await sha256File(destination);

    const plain = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '--dry-run']);
    assert.equal(plain.code, 2, describeRun(plain));
    assert.deepEqual(listed(plain), expected);
    assert.equal(plain.stdout.split('\n').filter((l) => l !== '').length, expected.length, 'nothing else on stdout');
    assert.match(plain.stderr, new RegExp(`dry run: 3 of 17 blocks differ; a real run would send ${total(expected)} bytes`));
    assert.equal(await sha256File(destination), before, 'the destination is unchanged');

    const json = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '--dry-run', '--json']);
    assert.equal(json.code, 2, describeRun(json));
    const j = jsonOf(json);
    assert.equal(j.dryRun, true);
    assert.equal(j.ok, false);
    assert.equal(j.exitCode, 2);
    assert.deepEqual(sorted(j.differences), expected);
    assert.deepEqual(j.blocks, { compared: 17, differing: 3 });
    assert.equal(j.bytesSent, total(expected));
    assert.equal(j.remote.bytesWritten, 0);
    // In-process the wire figures are the bytes written: none in a dry run.
    if (!place.agent) assert.deepEqual(j.wire, { rx: 0, tx: 0, total: 0 });
    assert.equal(j.error.type, 'SyncError');
    assert.equal(await sha256File(destination), before, 'the destination is unchanged');

    const real = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '--json']);
    assert.equal(real.code, 0, describeRun(real));
    assert.equal(jsonOf(real).bytesSent, j.bytesSent, 'the real run sends what the dry run announced');
    assert.ok(await cmp(source, destination));

    const again = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '--dry-run']);
    assert.equal(again.code, 0, `identical: exit 0. ${describeRun(again)}`);
    assert.equal(again.stdout, '');
  });

  test(`--dry-run PULL SYNC ${place.name}: the local destination is not written`, { skip }, async () => {
    const changes = [0, 5 * BLOCK + 77];
    const { source, destination } = await pair(changes);
    const before = await sha256File(destination);
    const r = await basyn(place, ['-l', destination, '-r', source, '-a', 'PULL', '-m', 'SYNC', ...BUFFER, '--dry-run', '--json']);
    assert.equal(r.code, 2, describeRun(r));
    const j = jsonOf(r);
    assert.deepEqual(sorted(j.differences), spans(changes, BLOCK));
    assert.equal(j.local.bytesWritten, 0);
    if (!place.agent) assert.deepEqual(j.wire, { rx: 0, tx: 0, total: 0 });
    assert.equal(await sha256File(destination), before);
  });

  test(`--dry-run with --chunk ${place.name}: lists the differing chunks, and a real --chunk run sends their bytes`, { skip }, async () => {
    const changes = [3 * BLOCK + 1 * CHUNK + 9, 3 * BLOCK + 3 * CHUNK + 1, 11 * BLOCK + 2, LAST * BLOCK + 10];
    const { source, destination } = await pair(changes);
    const expected = spans(changes, CHUNK);
    const before = await sha256File(destination);
    const plain = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '--chunk', String(CHUNK / 1024), '--dry-run']);
    assert.equal(plain.code, 2, describeRun(plain));
    assert.deepEqual(listed(plain), expected);
    assert.equal(await sha256File(destination), before);
    const json = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '--chunk', String(CHUNK / 1024), '--dry-run', '--json']);
    const j = jsonOf(json);
    assert.deepEqual(sorted(j.differences), expected);
    assert.deepEqual(j.blocks, { compared: 17, differing: 3 });
    // The last block (3000 bytes) is smaller than a chunk: it is compared and sent whole,
    // as its own only chunk, so it is listed and counted like one.
    assert.equal(j.chunks.differing, expected.length);
    assert.equal(j.bytesSent, total(expected));
    assert.equal(await sha256File(destination), before);
    const real = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '--chunk', String(CHUNK / 1024), '--json']);
    assert.equal(real.code, 0, describeRun(real));
    assert.equal(jsonOf(real).bytesSent, j.bytesSent);
    assert.ok(await cmp(source, destination));
  });

  test(`--dry-run with -b and no bitmap yet ${place.name}: the bitmap is not created, the destination not written, every block listed`, { skip }, async () => {
    const { source, destination } = await pair([4 * BLOCK]);
    const bitmap = join(dir.path, `missing${n}.bitmap`);
    const before = await sha256File(destination);
    const r = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '-b', bitmap, '--dry-run', '--json']);
    assert.equal(r.code, 2, describeRun(r));
    const j = jsonOf(r);
    assert.equal(j.differences.length, 17, 'a new bitmap knows nothing: every block would be sent');
    assert.equal(j.bytesSent, SIZE);
    assert.equal(await exists(bitmap), false, 'the bitmap was created');
    assert.equal(await sha256File(destination), before);
  });

  test(`--dry-run with an existing bitmap (and with --chunk) ${place.name}: bitmap and destination unchanged, the changed units listed`, { skip }, async () => {
    for (const chunk of [undefined, CHUNK]) {
      const { source, destination } = await pair([]);
      const bitmap = join(dir.path, `b${n}.bitmap`);
      const unit = chunk ?? BLOCK;
      const chunkArgs = chunk !== undefined ? ['--chunk', String(chunk / 1024)] : [];
      const first = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, ...chunkArgs, '-b', bitmap]);
      assert.equal(first.code, 0, describeRun(first));
      if (chunk === undefined) {
        const identical = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '-b', bitmap, '--dry-run']);
        assert.equal(identical.code, 0, `nothing changed: exit 0. ${describeRun(identical)}`);
        assert.equal(identical.stdout, '');
      }

      const changes = [BLOCK + 5, 7 * BLOCK + 2 * CHUNK + 1, LAST * BLOCK + 1];
      await scribble(source, changes, 10, 900 + n);
      const bitmapBefore = await sha256File(bitmap);
      const destinationBefore = await sha256File(destination);
      const expected = spans(changes, unit);
      if (chunk === undefined) {
        const plain = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, '-b', bitmap, '--dry-run']);
        assert.equal(plain.code, 2, describeRun(plain));
        assert.deepEqual(listed(plain), expected);
      }
      const json = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, ...chunkArgs, '-b', bitmap, '--dry-run', '--json']);
      assert.equal(json.code, 2, describeRun(json));
      const j = jsonOf(json);
      assert.deepEqual(sorted(j.differences), expected, `unit ${unit}`);
      assert.equal(j.bytesSent, total(expected));
      assert.equal(await sha256File(bitmap), bitmapBefore, 'the bitmap is unchanged');
      assert.equal(await sha256File(destination), destinationBefore, 'the destination is unchanged');

      const real = await basyn(place, ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', ...BUFFER, ...chunkArgs, '-b', bitmap, '--json']);
      assert.equal(real.code, 0, describeRun(real));
      assert.equal(jsonOf(real).bytesSent, j.bytesSent, 'the real run sends what the dry run announced');
      assert.ok(await cmp(source, destination));
    }
  });
}

test('--dry-run with COPY is a usage error (exit 1), nothing is opened', async () => {
  const { source, destination } = await pair([0]);
  const before = await sha256File(destination);
  const r = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'COPY', '--dry-run']);
  assert.equal(r.code, 1, describeRun(r));
  assert.match(r.stderr, /--dry-run needs -m\/--mode SYNC/);
  assert.equal(await sha256File(destination), before);
});

test('--dry-run with --reset-bitmap or --update-bitmap is a usage error (exit 1)', async () => {
  const { source, destination } = await pair([0]);
  for (const flag of ['--reset-bitmap', '--update-bitmap']) {
    const r = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '-b', join(dir.path, 'x.bitmap'), flag, '--dry-run']);
    assert.equal(r.code, 1, `${flag}: ${describeRun(r)}`);
  }
});

test('--dry-run with --create is a usage error (exit 1): no destination is created (PUSH and PULL)', async () => {
  const { source } = await pair([]);
  const pushed = join(dir.path, 'dry-created-remote.img');
  const push = await runBasyn(['-l', source, '-r', pushed, '-a', 'PUSH', '-m', 'SYNC', '--create', '--dry-run']);
  assert.equal(await exists(pushed), false, `PUSH created ${pushed}: ${describeRun(push)}`);
  assert.equal(push.code, 1, describeRun(push));
  const pulled = join(dir.path, 'dry-created-local.img');
  const pull = await runBasyn(['-l', pulled, '-r', source, '-a', 'PULL', '-m', 'SYNC', '--create', '--dry-run']);
  assert.equal(await exists(pulled), false, `PULL created ${pulled}: ${describeRun(pull)}`);
  assert.equal(pull.code, 1, describeRun(pull));
  assert.match(push.stderr, /--dry-run can't be combined with --create/);
});
