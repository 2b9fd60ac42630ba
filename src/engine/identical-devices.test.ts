/**
 * SYNC of identical devices moves no data and does not write the destination (its
 * mtime stays, its --debug I/O shows 0 bytes written). Through an agent (local or over
 * SSH) --stat shows only digest and control traffic, far below one block; when basyn
 * opens both devices itself, the traffic is the data written: none.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDebugIo } from '../test-support/bitmap-files.js';
import { cmp, sha256File, writeImage } from '../test-support/images.js';
import { describeRun, parseStat, runBasyn } from '../test-support/run-basyn.js';
import { allTargets } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 8 * 1024 * 1024 + 4321;

const targets = await allTargets();
let dir: { path: string; remove(): Promise<void> };
let a: string;
let b: string;
let hash: string;

before(async () => {
  dir = await makeTempDir();
  a = join(dir.path, 'a.img');
  b = join(dir.path, 'b.img');
  await writeImage(a, SIZE, 5);
  await copyFile(a, b);
  hash = await sha256File(a);
});
after(async () => {
  await dir.remove();
});

const settings = [
  { args: [], block: 2048 * 1024, limit: 1024 },
  { args: ['--chunk=64'], block: 2048 * 1024, limit: 1024 },
  // 129 blocks of 64 KiB: 129 SHA1 digests come back, still far below one block.
  { args: ['--buffer=64'], block: 64 * 1024, limit: 8 * 1024 },
  { args: ['--buffer=64', '--hash=SHA512'], block: 64 * 1024, limit: 16 * 1024 },
];

for (const { target, skip } of targets) {
  describe(`over ${target.name}`, { skip }, () => {
    for (const action of ['PUSH', 'PULL'] as const) {
      for (const s of settings) {
        const what = target.agent ? 'sends no data blocks, only digests' : 'writes nothing and counts no traffic';
        test(`${action} SYNC ${s.args.join(' ')} of identical devices ${what}`, async () => {
          // An old mtime on both: any write would move it.
          const old = new Date('2001-02-03T04:05:06Z');
          await utimes(a, old, old);
          await utimes(b, old, old);
          const r = await runBasyn(['-l', a, '-r', b, ...target.args, '-a', action, '-m', 'SYNC', ...s.args, '--stat', '--debug'], { env: target.env });
          assert.equal(r.code, 0, describeRun(r));
          assert.ok(await cmp(a, b));
          assert.equal(await sha256File(a), hash);
          assert.equal(await sha256File(b), hash);
          for (const f of [a, b]) assert.equal((await stat(f)).mtimeMs, old.getTime(), `${f} was written`);
          const io = parseDebugIo(r.stderr);
          assert.equal((action === 'PUSH' ? io.remote : io.local).wrote, 0, 'bytes written to the destination');

          const st = parseStat(r.stdout);
          assert.ok(st !== undefined, r.stdout);
          assert.equal(st.size, SIZE);
          if (!target.agent) {
            // Nothing crossed a link: the traffic stands for the data written, and none was.
            assert.deepEqual({ rx: st.rx, tx: st.tx }, { rx: 0, tx: 0 }, 'traffic of an in-process run that wrote nothing');
            return;
          }
          assert.ok(st.both > 0, 'digests must have crossed the channel');
          assert.ok(st.both < s.limit, `traffic ${st.both} B (Rx ${st.rx}, Tx ${st.tx}) is not far below one ${s.block} B block`);
          // What goes towards the destination is only requests (no data) either way.
          const towardsDestination = action === 'PUSH' ? st.tx : st.rx;
          assert.ok(towardsDestination < s.limit, `${towardsDestination} B went towards the destination`);
        });
      }
    }
  });
}
