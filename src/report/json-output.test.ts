/**
 * --json: exactly one JSON object on stdout, with every figure of the run, and on
 * failure an `error` object; with --progress, one JSON object per line on stderr.
 * Checked locally (both devices opened by basyn: the wire figures are the data
 * written), through a local agent and over the test sshd (what crossed the channel).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cmp, scribble, writeImage } from '../test-support/images.js';
import { allPlaces, describeRun, jsonOf } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const BLOCK = 256 * 1024;
const SIZE = 24 * BLOCK + 1000;
const BLOCKS = Math.ceil(SIZE / BLOCK);

/** The documented top-level fields (README "JSON output", report/json-report.ts); only ever added to. */
const FIELDS = [
  'schema', 'basyn', 'ok', 'exitCode', 'action', 'mode', 'dryRun', 'destination', 'bitmapOnly', 'hash', 'bufferSize', 'chunkSize', 'compress', 'zlevel', 'host',
  'size', 'local', 'remote', 'blocks', 'chunks', 'writes', 'bytesSent', 'wire', 'codecs', 'seconds', 'bandwidth', 'recheck',
  'bitmap', 'differences', 'error', 'delta', 'undo',
];

const places = await allPlaces();
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-json-');
});
after(async () => {
  await dir?.remove();
});

/** A source and a destination that differ in the blocks at `blocks` (indexes). */
async function pair(blocks: number[]): Promise<{ source: string; destination: string }> {
  n++;
  const source = join(dir.path, `s${n}.img`);
  const destination = join(dir.path, `d${n}.img`);
  await writeImage(source, SIZE, 40 + n);
  await writeImage(destination, SIZE, 40 + n);
  await scribble(destination, blocks.map((b) => b * BLOCK + 17), 100, 400 + n);
  return { source, destination };
}

function assertNumber(value: unknown, what: string): void {
  assert.equal(typeof value, 'number', `${what} is a number`);
  assert.ok(Number.isFinite(value as number) && (value as number) >= 0, `${what} = ${String(value)}`);
}

for (const place of places) {
  const skip = place.skip ?? false;
  const host = place.sshd?.host ?? null;

  test(`--json after a PUSH SYNC ${place.name}: one object on stdout with sizes, blocks, bytes per side, wire, time`, { skip }, async () => {
    const differing = [0, 7, 23, 24];
    const { source, destination } = await pair(differing);
    const r = await runBasyn(
      ['-l', source, '-r', destination, ...place.hostArgs, '-a', 'PUSH', '-m', 'SYNC', '--buffer', String(BLOCK / 1024), '--json', '--stat', '--verbose'],
      { env: place.env },
    );
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(await cmp(source, destination));
    const j = jsonOf(r);
    assert.deepEqual(Object.keys(j), FIELDS);
    assert.doesNotMatch(r.stdout, /STAT\./, '--stat prints nothing on stdout with --json');
    assert.match(r.stderr, /PUSH SYNC/, '--verbose lines go to stderr with --json');
    assert.equal(j.schema, 1);
    assert.equal(j.ok, true);
    assert.equal(j.exitCode, 0);
    assert.equal(j.action, 'PUSH');
    assert.equal(j.mode, 'SYNC');
    assert.equal(j.dryRun, false);
    assert.equal(j.destination, 'remote');
    assert.equal(j.bitmapOnly, false);
    assert.equal(j.hash, 'XXH128', 'the default digest of a SYNC without a bitmap');
    assert.equal(j.bufferSize, BLOCK);
    assert.equal(j.chunkSize, null);
    assert.equal(j.host, host);
    assert.equal(j.size, SIZE);
    assert.deepEqual(j.local, { path: source, size: SIZE, bytesRead: SIZE, bytesWritten: 0 });
    const lastLength = SIZE - (BLOCKS - 1) * BLOCK;
    const written = (differing.length - 1) * BLOCK + lastLength;
    assert.deepEqual(j.remote, { path: destination, size: SIZE, bytesRead: SIZE, bytesWritten: written });
    assert.deepEqual(j.blocks, { compared: BLOCKS, differing: differing.length });
    assert.deepEqual(j.chunks, { differing: 0 });
    assert.equal(j.writes, differing.length);
    assert.equal(j.bytesSent, written);
    assertNumber(j.wire.rx, 'wire.rx');
    assertNumber(j.wire.tx, 'wire.tx');
    assert.equal(j.wire.total, j.wire.rx + j.wire.tx);
    if (place.agent) {
      // The data is incompressible: what was sent crossed the wire (plus framing).
      assert.ok(j.wire.tx >= written && j.wire.tx < written + 64 * 1024, `wire.tx ${j.wire.tx} for ${written} bytes of blocks`);
      // Digests came back: 16 bytes per block (XXH128, the default) plus framing, far less than the data.
      assert.ok(j.wire.rx >= 16 * BLOCKS && j.wire.rx < 64 * 1024, `wire.rx ${j.wire.rx}`);
    } else {
      // Nothing crossed a link: the wire figures are the data written to the destination.
      assert.deepEqual(j.wire, { rx: 0, tx: written, total: written });
    }
    assertNumber(j.seconds, 'seconds');
    assertNumber(j.bandwidth.realKiBps, 'bandwidth.realKiBps');
    assertNumber(j.bandwidth.effectiveKiBps, 'bandwidth.effectiveKiBps');
    assert.equal(j.recheck, null);
    assert.equal(j.bitmap, null);
    assert.equal(j.differences, null);
    assert.equal(j.error, null);
  });

  test(`--json after a PULL COPY with --recheck ${place.name}: every block written on the local side, recheck figures`, { skip }, async () => {
    const { source, destination } = await pair([1, 2, 3]);
    const r = await runBasyn(
      ['-l', destination, '-r', source, ...place.hostArgs, '-a', 'PULL', '-m', 'COPY', '--buffer', String(BLOCK / 1024), '--recheck', '--json', '--debug'],
      { env: place.env },
    );
    assert.equal(r.code, 0, describeRun(r));
    assert.ok(await cmp(source, destination));
    const j = jsonOf(r);
    assert.equal(j.action, 'PULL');
    assert.equal(j.mode, 'COPY');
    // The recheck reads both devices again, after the counters of the copy were taken.
    assert.equal(j.local.bytesWritten, SIZE);
    assert.equal(j.remote.bytesWritten, 0);
    assert.ok(j.remote.bytesRead >= SIZE, `remote.bytesRead ${j.remote.bytesRead}`);
    assert.equal(j.blocks.differing, BLOCKS);
    assert.equal(j.writes, BLOCKS);
    assert.equal(j.bytesSent, SIZE);
    assert.ok(j.wire.rx >= SIZE, `wire.rx ${j.wire.rx}: the whole image came over`);
    // In-process, the PULL's traffic is the data written locally (the recheck is not counted).
    if (!place.agent) assert.deepEqual(j.wire, { rx: SIZE, tx: 0, total: SIZE });
    assert.deepEqual(j.recheck, { compared: BLOCKS, differing: 0, firstDifference: null });
  });

  test(`--json when the remote device is missing ${place.name}: exit 2, still one JSON object, with an error object`, { skip }, async () => {
    const { source } = await pair([]);
    const missing = join(dir.path, 'missing.img');
    const r = await runBasyn(['-l', source, '-r', missing, ...place.hostArgs, '-a', 'PUSH', '-m', 'SYNC', '--json'], { env: place.env });
    assert.equal(r.code, 2, describeRun(r));
    const j = jsonOf(r);
    assert.deepEqual(Object.keys(j), FIELDS);
    assert.equal(j.ok, false);
    assert.equal(j.exitCode, 2);
    assert.equal(j.error.type, 'DeviceError');
    assert.ok(j.error.message.includes(missing), j.error.message);
    assert.match(j.error.message, /ENOENT|no such file/);
    assert.equal(j.error.side, 'remote');
    assert.equal(j.error.device, missing);
    assert.equal(j.error.operation, 'open');
    assert.equal(j.error.offset, null);
    assert.match(r.stderr, /cannot open remote device/, 'the error line is on stderr too');
  });

  test(`--json when the local device is missing ${place.name}: the error names the local side`, { skip }, async () => {
    const { destination } = await pair([]);
    const missing = join(dir.path, 'missing-local.img');
    const r = await runBasyn(['-l', missing, '-r', destination, ...place.hostArgs, '-a', 'PUSH', '-m', 'COPY', '--json'], { env: place.env });
    assert.equal(r.code, 2, describeRun(r));
    const j = jsonOf(r);
    assert.equal(j.exitCode, 2);
    assert.equal(j.error.side, 'local');
    assert.equal(j.error.device, missing);
    assert.equal(j.error.operation, 'open');
  });

  test(`--json with --progress ${place.name}: stderr carries one JSON object per line`, { skip }, async () => {
    const { source, destination } = await pair([3]);
    const r = await runBasyn(
      ['-l', source, '-r', destination, ...place.hostArgs, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--json', '--progress', '--recheck'],
      { env: place.env },
    );
    assert.equal(r.code, 0, describeRun(r));
    jsonOf(r);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 2, `a final line for SYNC and for RECHECK at least: ${r.stderr}`);
    const events = lines.map((line) => {
      try {
        return JSON.parse(line) as { phase: string; done: number; total: number; percent: number; bytesPerSecond: number; etaSeconds: number | null; final: boolean };
      } catch {
        throw new Error(`a stderr line is not a JSON object: ${JSON.stringify(line)}`);
      }
    });
    for (const e of events) {
      assert.deepEqual(Object.keys(e), ['phase', 'done', 'total', 'percent', 'bytesPerSecond', 'etaSeconds', 'final']);
      assert.equal(e.total, SIZE);
      assert.ok(e.done >= 0 && e.done <= e.total);
    }
    const finals = events.filter((e) => e.final);
    assert.deepEqual(finals.map((e) => e.phase), ['SYNC', 'RECHECK']);
    for (const e of finals) {
      assert.equal(e.done, SIZE);
      assert.equal(e.percent, 100);
    }
  });
}

test('--json with a usage error: exit 1, nothing on stdout (documented: the command line was not understood)', async () => {
  const r = await runBasyn(['-l', 'a.img', '-r', 'b.img', '-a', 'PUSH', '-m', 'COPY', '--dry-run', '--json']);
  assert.equal(r.code, 1, describeRun(r));
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /--dry-run needs -m\/--mode SYNC/);
});
