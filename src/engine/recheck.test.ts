/**
 * --recheck: alone on equal devices it exits 0; on a planted difference it exits 2
 * and names the first differing offset, without writing anything; after an action
 * it proves the devices equal.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cmp, devicesFor, imagePair, scribble, sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { bothTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const BLOCK = 64 * 1024;
const SIZE = 20 * BLOCK + 77;

const targets = await bothTargets();
const dir = tempDirForFile();
let n = 0;

async function equalPair(): Promise<{ a: string; b: string }> {
  n++;
  const a = join(dir.path, `a${n}.img`);
  const b = join(dir.path, `b${n}.img`);
  await writeImage(a, SIZE, 70 + n);
  await copyFile(a, b);
  return { a, b };
}

for (const { target, skip } of targets) {
  describe(`over ${target.name}`, { skip }, () => {
    test('--recheck alone on equal devices exits 0', async () => {
      const { a, b } = await equalPair();
      const r = await runBasyn(['-l', a, '-r', b, ...target.args, '--recheck', '--buffer=64'], { env: target.env });
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(await cmp(a, b));
    });

    for (const planted of [
      { name: 'at a block boundary', offsets: [7 * BLOCK, 12 * BLOCK + 5] },
      { name: 'inside a block', offsets: [3 * BLOCK + 4321, 15 * BLOCK] },
      { name: 'in the last, short block', offsets: [SIZE - 1] },
    ]) {
      test(`--recheck alone finds a difference ${planted.name}: exit 2, first offset named, nothing written`, async () => {
        const { a, b } = await equalPair();
        await scribble(b, planted.offsets, 1, n);
        const [ha, hb] = [await sha256File(a), await sha256File(b)];
        const r = await runBasyn(['-l', a, '-r', b, ...target.args, '--recheck', '--buffer=64'], { env: target.env });
        assert.equal(r.code, 2, describeRun(r));
        const first = planted.offsets[0]!;
        const m = /offset (\d+)/.exec(r.stderr);
        assert.ok(m !== null, `no offset named in ${JSON.stringify(r.stderr)}`);
        const named = Number(m[1]);
        // The comparison is by --buffer blocks: the offset named is that of the block holding the first difference.
        assert.ok(named <= first && first < named + BLOCK, `named offset ${named}, first difference at ${first}`);
        if (first % BLOCK === 0) assert.equal(named, first);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.equal(await sha256File(a), ha);
        assert.equal(await sha256File(b), hb);
      });
    }

    test('--recheck with the default buffer names the offset of the block that differs', async () => {
      const { a, b } = await equalPair();
      await scribble(a, [BLOCK], 10, 5); // inside block 0 of 2 MiB
      const r = await runBasyn(['-l', a, '-r', b, ...target.args, '--recheck'], { env: target.env });
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, /offset 0\b/);
    });

    for (const action of ['PUSH', 'PULL'] as const) {
      for (const mode of ['SYNC', 'COPY']) {
        test(`${action} ${mode} --recheck exits 0 with equal devices`, async () => {
          n++;
          const p = await imagePair(dir.path, `r${n}`, SIZE, 90 + n, [BLOCK * 2, SIZE - 3]);
          const { local, remote } = devicesFor(action, p);
          const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', action, '-m', mode, '--recheck', '--buffer=64', '--verbose'], { env: target.env });
          assert.equal(r.code, 0, describeRun(r));
          assert.ok(await cmp(p.source, p.destination));
          assert.match(r.stdout, /recheck/i, 'the recheck did not run');
        });
      }
    }
  });
}
