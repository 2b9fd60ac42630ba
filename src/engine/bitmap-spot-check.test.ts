/**
 * The spot check: a bitmap made against destination A and then used with another
 * destination B is caught before anything is written (exit 2, pointing to
 * --update-bitmap and --reset-bitmap); --no-bitmap-check turns it off.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BitmapFile } from '../bitmap/bitmap-file.js';
import { LocalDevice } from '../device/local-device.js';
import { hashByName, loadDigest } from '../hash/hash-algorithms.js';
import { blockDigestsOfFile, errorLines, parseDebugIo } from '../test-support/bitmap-files.js';
import { cmp, scribble, sha256File, writeImage } from '../test-support/images.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { sharedSshd, type SshdFixture } from '../test-support/sshd.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { spotCheckBitmap } from './bitmap-spot-check.js';

const KiB = 1024;
const BLOCK = 32 * KiB;
const SIZE = 30 * BLOCK + 4321;

let sshd: SshdFixture | string = 'not started';
before(async () => {
  sshd = await sharedSshd();
});
after(async () => {
  if (typeof sshd !== 'string') await sshd.stop();
});

type Way = { action: 'PUSH' | 'PULL'; ssh: boolean };

describe('bitmap spot check through the command', { concurrency: 2 }, () => {
  for (const way of [{ action: 'PUSH', ssh: false }, { action: 'PULL', ssh: false }, { action: 'PUSH', ssh: true }, { action: 'PULL', ssh: true }] as Way[]) {
    it(`catches a bitmap used with another destination (${way.action}${way.ssh ? ' over SSH' : ' locally'})`, async (t) => {
      if (way.ssh && typeof sshd === 'string') return t.skip(sshd);
      const dir = await makeTempDir('basyn-bitmap-spot-');
      try {
        const src = join(dir.path, 'source.img');
        const a = join(dir.path, 'a.img');
        const b = join(dir.path, 'b.img');
        const bitmap = join(dir.path, 'a.bitmap');
        await writeImage(src, SIZE, 61);
        await writeImage(a, SIZE, 62);
        await writeImage(b, SIZE, 63);
        const env = way.ssh && typeof sshd !== 'string' ? sshd.env : process.env;
        const args = (dst: string, extra: string[] = []): string[] => {
          const [local, remote] = way.action === 'PUSH' ? [src, dst] : [dst, src];
          const ssh = way.ssh && typeof sshd !== 'string' ? ['-h', sshd.host, '-p', String(sshd.port)] : [];
          return ['-l', local, '-r', remote, '-a', way.action, '-m', 'SYNC', '-b', bitmap, '--buffer', String(BLOCK / KiB), ...ssh, ...extra];
        };
        const first = await runBasyn(args(a), { env });
        assert.equal(first.code, 0, first.stderr);
        assert.ok(await cmp(src, a));
        await scribble(src, [5 * BLOCK], 100, 64);

        // The bitmap describes A; B holds other data: refused, nothing written.
        const bBefore = await sha256File(b);
        const bitmapBefore = await sha256File(bitmap);
        const refused = await runBasyn(args(b), { env });
        assert.equal(refused.code, 2, refused.stderr);
        const lines = errorLines(refused.stderr);
        assert.equal(lines.length, 1, refused.stderr);
        assert.match(lines[0]!, /does not match/);
        assert.match(lines[0]!, /--update-bitmap/);
        assert.match(lines[0]!, /--reset-bitmap/);
        assert.equal(await sha256File(b), bBefore, 'B unchanged');
        assert.equal(await sha256File(bitmap), bitmapBefore, 'bitmap unchanged');

        // --no-bitmap-check proceeds and trusts the bitmap: only the block changed in the
        // source since the bitmap was written is sent (B is not made equal: that is what
        // the check is there for).
        const unchecked = await runBasyn(args(b, ['--no-bitmap-check', '--debug']), { env });
        assert.equal(unchecked.code, 0, unchecked.stderr);
        const io = parseDebugIo(unchecked.stderr);
        const destination = way.action === 'PUSH' ? io.remote : io.local;
        assert.deepEqual(destination, { read: 0, wrote: BLOCK }, 'destination I/O with --no-bitmap-check');
        assert.equal(await cmp(src, b), false);

        // --update-bitmap is the way to adopt B: then B equals the source and the
        // bitmap passes the spot check.
        const updated = await runBasyn(args(b, ['--update-bitmap']), { env });
        assert.equal(updated.code, 0, updated.stderr);
        assert.ok(await cmp(src, b));
        const again = await runBasyn(args(b, ['--debug']), { env });
        assert.equal(again.code, 0, again.stderr);
        const io2 = parseDebugIo(again.stderr);
        assert.equal((way.action === 'PUSH' ? io2.remote : io2.local).wrote, 0);
      } finally {
        await dir.remove();
      }
    });
  }
});

describe('spotCheckBitmap', () => {
  const sha1 = hashByName('SHA1')!;
  const setup = async (dir: string, blocks: number, known: number[]): Promise<{ bitmap: BitmapFile; device: LocalDevice; path: string }> => {
    const path = join(dir, 'd.img');
    const size = blocks * BLOCK - 100;
    await writeImage(path, size, 70);
    const bitmap = await BitmapFile.open(join(dir, 'd.bitmap'), { deviceSize: size, blockSize: BLOCK, hash: sha1 }, { reset: false });
    const digests = await blockDigestsOfFile(path, BLOCK);
    for (const i of known) await bitmap.write(i, digests[i]!);
    const device = await LocalDevice.open(path, { writable: false, hash: sha1, digest: await loadDigest(sha1) });
    return { bitmap, device, path };
  };

  it('reads only blocks whose entries are known, at most 8', async () => {
    const dir = await makeTempDir('basyn-spot-unit-');
    try {
      const { bitmap, device } = await setup(dir.path, 4, [1, 3]);
      try {
        assert.equal(await spotCheckBitmap(bitmap, device, device.size), 2);
        assert.equal((await device.status()).io.bytesRead, BLOCK + (BLOCK - 100));
      } finally {
        await bitmap.close();
        await device.close();
      }
    } finally {
      await dir.remove();
    }
  });

  it('reads nothing when every entry is unknown', async () => {
    const dir = await makeTempDir('basyn-spot-unit-');
    try {
      const { bitmap, device } = await setup(dir.path, 6, []);
      try {
        assert.equal(await spotCheckBitmap(bitmap, device, device.size), 0);
        assert.equal((await device.status()).io.bytesRead, 0);
      } finally {
        await bitmap.close();
        await device.close();
      }
    } finally {
      await dir.remove();
    }
  });

  it('checks 8 blocks of a large bitmap whose entries are all known', async () => {
    const dir = await makeTempDir('basyn-spot-unit-');
    try {
      const { bitmap, device } = await setup(dir.path, 40, Array.from({ length: 40 }, (_, i) => i));
      try {
        assert.equal(await spotCheckBitmap(bitmap, device, device.size), 8);
        assert.ok((await device.status()).io.bytesRead <= 8 * BLOCK);
      } finally {
        await bitmap.close();
        await device.close();
      }
    } finally {
      await dir.remove();
    }
  });

  it('names the offset of a mismatching block', async () => {
    const dir = await makeTempDir('basyn-spot-unit-');
    try {
      const { bitmap, device, path } = await setup(dir.path, 3, [2]);
      await device.close();
      await scribble(path, [2 * BLOCK + 1], 1, 71);
      const changed = await LocalDevice.open(path, { writable: false, hash: sha1, digest: await loadDigest(sha1) });
      try {
        await assert.rejects(spotCheckBitmap(bitmap, changed, changed.size), (e: Error) => {
          assert.equal(e.name, 'BitmapError');
          assert.match(e.message, new RegExp(`block at offset ${2 * BLOCK} differs`));
          return true;
        });
      } finally {
        await bitmap.close();
        await changed.close();
      }
    } finally {
      await dir.remove();
    }
  });
});
