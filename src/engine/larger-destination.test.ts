/**
 * A destination larger than the source: the synced size is the smaller one, the
 * first `size` bytes end up equal (cmp -n), and the bytes past it are not touched.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cmp, seededImage } from '../test-support/images.js';
import { describeRun, parseStat, runBasyn } from '../test-support/run-basyn.js';
import { bothTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const SIZE = 1024 * 1024 + 333;
const EXTRA = 200 * 1024 + 5;

const targets = await bothTargets();
const dir = tempDirForFile();
let n = 0;

const tailHash = async (path: string): Promise<string> => createHash('sha256').update((await readFile(path)).subarray(SIZE)).digest('hex');

for (const { target, skip } of targets) {
  describe(`over ${target.name}`, { skip }, () => {
    for (const action of ['PUSH', 'PULL'] as const) {
      for (const mode of [['-m', 'SYNC', '--buffer=64'], ['-m', 'COPY'], ['-m', 'SYNC', '--chunk=4', '--recheck']]) {
        test(`${action} ${mode.slice(1).join(' ')} to a larger destination syncs the source's size and leaves the rest`, async () => {
          n++;
          const source = join(dir.path, `source${n}.img`);
          const destination = join(dir.path, `destination${n}.img`);
          await writeFile(source, seededImage(SIZE, n));
          await writeFile(destination, seededImage(SIZE + EXTRA, 1000 + n));
          const tailBefore = await tailHash(destination);
          const [local, remote] = action === 'PUSH' ? [source, destination] : [destination, source];

          const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', action, ...mode, '--stat'], { env: target.env });
          assert.equal(r.code, 0, describeRun(r));
          assert.ok(await cmp(source, destination, SIZE), `cmp -n ${SIZE}: devices differ`);
          assert.equal(await cmp(source, destination), false, 'the destination should still be longer than the source');
          assert.equal((await stat(destination)).size, SIZE + EXTRA, 'the destination changed size');
          assert.equal(await tailHash(destination), tailBefore, 'bytes past the synced size were changed');
          assert.equal(parseStat(r.stdout)?.size, SIZE, 'the STAT device size is the smaller size');
        });
      }
    }
  });
}
