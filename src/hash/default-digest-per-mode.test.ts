/**
 * --hash=auto, the default: a SYNC without a bitmap compares XXH128 digests (and says
 * so in --debug), a bitmap made with default options is SHA1 (id 0, what the original
 * tool reads and writes by default), COPY compares none; a named --hash wins in every
 * mode. The digests of the differing block in --debug are checked against digests
 * computed here, so the line cannot claim one digest while the ends use another.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createXXHash128 } from 'hash-wasm';
import { copy, sync } from '../api/library.js';
import { parseBitmap } from '../test-support/bitmap-files.js';
import { cmp, imagePair } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { agentTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const BLOCK = 64 * 1024;
const SIZE = 4 * BLOCK + 321;
const CHANGED = 2;
const dir = tempDirForFile();
let n = 0;

async function pair(changes: number[] | 'none' = [CHANGED * BLOCK + 7]): Promise<{ source: string; destination: string }> {
  n++;
  return imagePair(dir.path, `d${n}`, SIZE, 70 + n, changes);
}

async function changedBlock(path: string): Promise<Buffer> {
  return (await readFile(path)).subarray(CHANGED * BLOCK, (CHANGED + 1) * BLOCK);
}

async function xxh128(data: Buffer): Promise<string> {
  const h = await createXXHash128();
  h.init();
  h.update(data);
  return h.digest('hex');
}

const sha = (name: string) => (data: Buffer): string => createHash(name).update(data).digest('hex');

function differingLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => / differs: /.test(l));
  assert.equal(lines.length, 1, `expected one differing block in ${JSON.stringify(stderr)}`);
  return lines[0]!;
}

for (const { target, skip } of await agentTargets()) {
  describe(`SYNC without a bitmap, over ${target.name}`, { skip }, () => {
    test('compares XXH128 digests by default and says so in --debug', async () => {
      const p = await pair();
      const r = await runBasyn(['-l', p.source, '-r', p.destination, ...target.args, '-a', 'PUSH', '-m', 'SYNC', `--buffer=${BLOCK / 1024}`, '--debug'], { env: target.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
      assert.match(r.stderr, /debug: digest: XXH128 \(--hash=auto: /);
      const line = differingLine(r.stderr);
      assert.ok(line.includes(`source ${await xxh128(await changedBlock(p.source))}`), `source digest is not XXH128: ${line}`);
    });

    test('a named --hash wins over auto', async () => {
      const p = await pair();
      const before = sha('sha256')(await changedBlock(p.destination));
      const r = await runBasyn(['-l', p.source, '-r', p.destination, ...target.args, '-a', 'PUSH', '-m', 'SYNC', '--hash=sha256', `--buffer=${BLOCK / 1024}`, '--debug'], { env: target.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
      assert.match(r.stderr, /debug: digest: SHA256 \(--hash\)/);
      assert.ok(differingLine(r.stderr).includes(`destination ${before}`), r.stderr);
    });
  });
}

describe('SYNC with a bitmap', () => {
  test('a bitmap made with default options holds SHA1 digests (id 0) and --debug says why', async () => {
    const p = await pair('none');
    const bitmap = join(dir.path, `b${n}.bitmap`);
    const r = await runBasyn(['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, `--buffer=${BLOCK / 1024}`, '--debug']);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /debug: digest: SHA1 \(--hash=auto: a bitmap /);
    const parsed = await parseBitmap(bitmap);
    assert.equal(parsed.hashId, 0);
    assert.deepEqual(parsed.body.subarray(0, 20).toString('hex'), sha('sha1')((await readFile(p.source)).subarray(0, BLOCK)));
    // The next run with defaults loads it (a mismatch of hash would be refused).
    const again = await runBasyn(['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, `--buffer=${BLOCK / 1024}`]);
    assert.equal(again.code, 0, describeRun(again));
  });

  test('a named --hash wins: the bitmap holds its id', async () => {
    const p = await pair('none');
    const bitmap = join(dir.path, `b${n}.bitmap`);
    const r = await runBasyn(['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--hash=XXH128', `--buffer=${BLOCK / 1024}`, '--debug']);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stderr, /debug: digest: XXH128 \(--hash\)/);
    assert.equal((await parseBitmap(bitmap)).hashId, 8);
  });
});

describe('COPY', () => {
  test('compares no digest by default, and a named --hash is used by its --recheck', async () => {
    const p = await pair();
    const plain = await runBasyn(['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'COPY', '--debug']);
    assert.equal(plain.code, 0, describeRun(plain));
    assert.match(plain.stderr, /debug: digest: none needed \(COPY compares no digests/);
    assert.ok(await cmp(p.source, p.destination));
    const named = await runBasyn(['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'COPY', '--recheck', '--hash=MD5', '--debug']);
    assert.equal(named.code, 0, describeRun(named));
    assert.match(named.stderr, /debug: digest: MD5 \(--hash\)/);
    const rechecked = await runBasyn(['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'COPY', '--recheck', '--debug']);
    assert.match(rechecked.stderr, /debug: digest: XXH128 \(--hash=auto/);
  });
});

describe('library', () => {
  test('the same default: XXH128 without a bitmap, SHA1 with one; "auto" in any case; a named hash wins', async () => {
    const p = await pair();
    const plain = await sync({ local: p.source, remote: p.destination, action: 'PUSH', bufferKiB: BLOCK / 1024 });
    assert.equal(plain.hash, 'XXH128');
    assert.ok(await cmp(p.source, p.destination));
    const bitmap = join(dir.path, `lib${n}.bitmap`);
    const withBitmap = await sync({ local: p.source, remote: p.destination, action: 'PUSH', bufferKiB: BLOCK / 1024, bitmap, hash: 'Auto' });
    assert.equal(withBitmap.hash, 'SHA1');
    assert.equal((await parseBitmap(bitmap)).hashId, 0);
    const named = await sync({ local: p.source, remote: p.destination, action: 'PUSH', bufferKiB: BLOCK / 1024, hash: 'blake2s' });
    assert.equal(named.hash, 'BLAKE2S');
    const copied = await copy({ local: p.source, remote: p.destination, action: 'PUSH', hash: 'AUTO' });
    assert.equal(copied.ok, true);
    await assert.rejects(sync({ local: p.source, remote: p.destination, action: 'PUSH', hash: 'autox' }), /hash must be one of AUTO, SHA1/);
  });
});
