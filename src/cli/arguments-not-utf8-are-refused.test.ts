/**
 * A file name that is not valid UTF-8 reaches Node with its bad bytes turned into
 * U+FFFD, which names another file (one that may exist). basyn refuses such an
 * argument with one line showing its bytes escaped, and opens nothing: neither the
 * file meant nor the one the mangled name points to.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { writeImage } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { describeRun } from '../test-support/run-places.js';
import type { BasynRun } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

let dir: { path: string; remove(): Promise<void> };

before(async () => {
  dir = await makeTempDir('basyn-not-utf8-');
});
after(async () => {
  await dir?.remove();
});

/** Runs basyn with `-r DIR/<bytes>`: the name's bytes go through the shell's printf, never through a JavaScript string. */
async function runWithRawRemote(source: string, printfName: string, extra: string[]): Promise<BasynRun> {
  const script = 'node="$1" bin="$2" src="$3" folder="$4" name="$5"; shift 5; exec "$node" "$bin" -l "$src" -r "$folder/$(printf "$name")" "$@"';
  return promisify(execFile)('sh', ['-c', script, 'sh', process.execPath, BASYN_BIN, source, dir.path, printfName, ...extra], { timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, signal: null, stdout, stderr }),
    (e: { code?: number; signal?: NodeJS.Signals; stdout: string; stderr: string }) => ({ code: e.code ?? null, signal: e.signal ?? null, stdout: e.stdout, stderr: e.stderr }),
  );
}

test('a destination name with a byte that is not UTF-8 is refused (exit 1), shown escaped; neither it nor its mangled twin is touched', async () => {
  const source = join(dir.path, 'source.img');
  await writeImage(source, 1024 * 1024, 1);
  const meant = Buffer.concat([Buffer.from(`${dir.path}/d`), Buffer.from([0xe9]), Buffer.from('t\u00e9.img')]);
  const twin = join(dir.path, 'd\uFFFDt\u00e9.img');
  await writeFile(meant, 'the file meant');
  await writeFile(twin, 'another file');
  for (const extra of [['-a', 'PUSH', '-m', 'COPY'], ['-a', 'PUSH', '-m', 'COPY', '--create'], ['-a', 'PUSH', '-m', 'SYNC', '--remote-node', process.execPath]]) {
    const r = await runWithRawRemote(source, 'd\\351t\\303\\251.img', extra);
    assert.equal(r.code, 1, describeRun(r));
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(`"${dir.path}/d\\xe9t\u00e9.img" is not valid UTF-8`), r.stderr);
    assert.equal(await readFile(meant, 'utf8'), 'the file meant');
    assert.equal(await readFile(twin, 'utf8'), 'another file');
  }
});

test('valid UTF-8 names, U+FFFD included, still work', async () => {
  const source = join(dir.path, 'source2.img');
  await writeImage(source, 1024 * 1024, 2);
  const destination = join(dir.path, 'caf\u00e9 \uFFFD.img');
  await writeImage(destination, 1024 * 1024, 3);
  const r = await runWithRawRemote(source, 'caf\\303\\251 \\357\\277\\275.img', ['-a', 'PUSH', '-m', 'COPY']);
  assert.equal(r.code, 0, describeRun(r));
  assert.deepEqual(await readFile(destination), await readFile(source));
});
