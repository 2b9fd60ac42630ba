/**
 * Compatibility with the original tool's bitmap files, both ways: a file written by
 * hand in the original layout (as the Python tool writes it) is trusted, and the
 * file basyn writes has exactly that layout, for every hash id.
 */
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ORIGINAL_HASHES, ORIGINAL_MAGIC, blockDigestsOfFile, encodeOriginalBitmap, entriesOf, parseBitmap, parseDebugIo,
} from '../test-support/bitmap-files.js';
import { cmp, scribble, sha256File, writeImage } from '../test-support/images.js';
import { parseStat, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const KiB = 1024;
const BLOCK = 32 * KiB;
/** 24 full blocks and a short one. */
const SIZE = 24 * BLOCK + 777;

function pushArgs(src: string, dst: string | undefined, bitmap: string, hash: string, extra: string[] = []): string[] {
  return [
    '-l', src, ...(dst !== undefined ? ['-r', dst] : []), '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap,
    '--buffer', String(BLOCK / KiB), '--hash', hash, '--stat', '--debug', ...extra,
  ];
}

describe('bitmap compatibility with the original tool', { concurrency: 2 }, () => {
  it('trusts a hand-written SHA1 bitmap in the original layout: nothing is sent to an equal destination', async () => {
    const dir = await makeTempDir('basyn-bitmap-compat-');
    try {
      const src = join(dir.path, 'source.img');
      const dst = join(dir.path, 'destination.img');
      const bitmap = join(dir.path, 'original.bitmap');
      await writeImage(src, SIZE, 31);
      await copyFile(src, dst);
      const digests = await blockDigestsOfFile(src, BLOCK, 'sha1');
      const file = encodeOriginalBitmap(SIZE, BLOCK, 0, digests);
      await writeFile(bitmap, file);

      const run = await runBasyn(pushArgs(src, dst, bitmap, 'SHA1'));
      assert.equal(run.code, 0, run.stderr);
      const io = parseDebugIo(run.stderr);
      assert.equal(io.remote.wrote, 0, 'destination bytes written');
      assert.ok(io.remote.read <= 8 * BLOCK, `destination read ${io.remote.read} B: more than the 8-block spot check`);
      assert.equal(io.local.read, SIZE);
      assert.ok(parseStat(run.stdout)!.both < BLOCK / 4, 'traffic is far below one block');
      assert.ok(await cmp(src, dst));
      // The file is still the same bytes: every entry was already right.
      assert.deepEqual(await parseBitmap(bitmap).then((b) => b.body), file.subarray(25));
    } finally {
      await dir.remove();
    }
  });

  it('uses the entries of a hand-written bitmap: only blocks whose entry differs from the source are sent', async () => {
    const dir = await makeTempDir('basyn-bitmap-compat-');
    try {
      const src = join(dir.path, 'source.img');
      const dst = join(dir.path, 'destination.img');
      const bitmap = join(dir.path, 'original.bitmap');
      await writeImage(src, SIZE, 32);
      await copyFile(src, dst);
      // The destination holds other data in blocks 3 and 24 (the short last one), and
      // the bitmap says so, as the original tool would have recorded it; block 10 is
      // "unknown" (all zero).
      await scribble(dst, [3 * BLOCK + 5, 24 * BLOCK + 1], 100, 77);
      const digests = await blockDigestsOfFile(dst, BLOCK, 'sha1');
      digests[10] = Buffer.alloc(20);
      await writeFile(bitmap, encodeOriginalBitmap(SIZE, BLOCK, 0, digests));

      const run = await runBasyn(pushArgs(src, dst, bitmap, 'SHA1'));
      assert.equal(run.code, 0, run.stderr);
      const io = parseDebugIo(run.stderr);
      assert.equal(io.remote.wrote, 2 * BLOCK + 777, 'blocks 3, 10 and 24 are written, nothing else');
      assert.ok(await cmp(src, dst));
      const after = entriesOf((await parseBitmap(bitmap)).body, 20);
      const wanted = await blockDigestsOfFile(src, BLOCK, 'sha1');
      assert.deepEqual(after, wanted);
    } finally {
      await dir.remove();
    }
  });

  for (const h of ORIGINAL_HASHES) {
    it(`writes the original layout with ${h.name} (id ${h.id}) and loads a hand-written ${h.name} file`, async () => {
      const dir = await makeTempDir('basyn-bitmap-compat-');
      try {
        const src = join(dir.path, 'source.img');
        const bitmap = join(dir.path, 'basyn.bitmap');
        await writeImage(src, SIZE, 40 + h.id);
        const sourceBefore = await sha256File(src);

        // basyn's own file, written without a destination.
        const run = await runBasyn(pushArgs(src, undefined, bitmap, h.name));
        assert.equal(run.code, 0, run.stderr);
        const b = await parseBitmap(bitmap);
        assert.equal(b.magic, ORIGINAL_MAGIC, 'magic');
        assert.equal(b.deviceSize, SIZE, 'device size');
        assert.equal(b.blockSize, BLOCK, 'block size');
        assert.equal(b.hashId, h.id, 'hash id');
        const wanted = await blockDigestsOfFile(src, BLOCK, h.node);
        assert.equal(wanted.length, 25);
        assert.equal(b.fileSize, 25 + wanted.length * h.length, 'file length: header + one digest per block');
        assert.deepEqual(entriesOf(b.body, h.length), wanted, 'entries are the node:crypto digests of each block');
        assert.equal(await sha256File(src), sourceBefore);

        // A hand-written file with the same digests is trusted against an equal destination.
        const dst = join(dir.path, 'destination.img');
        const handWritten = join(dir.path, 'original.bitmap');
        await copyFile(src, dst);
        await writeFile(handWritten, encodeOriginalBitmap(SIZE, BLOCK, h.id, wanted));
        const second = await runBasyn(pushArgs(src, dst, handWritten, h.name));
        assert.equal(second.code, 0, second.stderr);
        assert.equal(parseDebugIo(second.stderr).remote.wrote, 0, 'destination bytes written');
      } finally {
        await dir.remove();
      }
    });
  }
});
