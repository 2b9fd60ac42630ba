/**
 * Bitmap SYNC through the real command, PUSH and PULL, locally and over SSH, with
 * and without --chunk, on a device whose size is not a multiple of the block size:
 * create, reuse, change, --update-bitmap, --reset-bitmap and bitmap-only runs.
 *
 * The --debug byte counters of both sides (the agent's included) prove that the
 * destination is never read in bitmap mode, and the bitmap file is parsed after each
 * run and compared with digests computed here with node:crypto.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { blockDigestsOfFile, entriesOf, ORIGINAL_MAGIC, parseBitmap, parseDebugIo, type DebugIo } from '../test-support/bitmap-files.js';
import { cmp, scribble, sha256File, writeImage } from '../test-support/images.js';
import { parseStat, runBasyn, type BasynRun } from '../test-support/run-basyn.js';
import { sharedSshd, type SshdFixture } from '../test-support/sshd.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const KiB = 1024;
const BLOCK = 64 * KiB;
const CHUNK = 16 * KiB;
const LAST = 12_345;
/** 40 full blocks and a short one: not a multiple of the block (or chunk) size. */
const SIZE = 40 * BLOCK + LAST;

type Action = 'PUSH' | 'PULL';
interface Way {
  action: Action;
  ssh: boolean;
  chunk: boolean;
}

let sshd: SshdFixture | string = 'not started';
before(async () => {
  sshd = await sharedSshd();
});
after(async () => {
  if (typeof sshd !== 'string') await sshd.stop();
});

interface Result {
  run: BasynRun;
  io: DebugIo;
  /** Bytes read from / written to the source and the destination, whichever side they are on. */
  source: { read: number; wrote: number };
  destination: { read: number; wrote: number };
  traffic: number;
}

/** Runs one bitmap SYNC from `src` to `dst` (either may be omitted for bitmap-only). */
async function bitmapRun(way: Way, src: string | undefined, dst: string | undefined, bitmap: string, extra: string[] = []): Promise<Result> {
  const args: string[] = [];
  const [local, remote] = way.action === 'PUSH' ? [src, dst] : [dst, src];
  if (local !== undefined) args.push('-l', local);
  if (remote !== undefined) args.push('-r', remote);
  args.push('-a', way.action, '-m', 'SYNC', '-b', bitmap, '--buffer', String(BLOCK / KiB), '--stat', '--debug');
  if (way.chunk) args.push('--chunk', String(CHUNK / KiB));
  let env = process.env;
  if (way.ssh) {
    if (typeof sshd === 'string') throw new Error(sshd);
    args.push('-h', sshd.host, '-p', String(sshd.port));
    env = sshd.env;
  }
  args.push(...extra);
  const run = await runBasyn(args, { env });
  assert.equal(run.code, 0, `basyn ${args.join(' ')} exited ${run.code}:\n${run.stderr.slice(-3000)}`);
  const io = parseDebugIo(run.stderr);
  const stat = parseStat(run.stdout);
  assert.ok(stat, `no STAT line in ${run.stdout}`);
  const [source, destination] = way.action === 'PUSH' ? [io.local, io.remote] : [io.remote, io.local];
  return { run, io, source, destination, traffic: stat.both };
}

/** The bitmap holds exactly the original layout with the source's digests per unit. */
async function assertBitmapMatches(bitmap: string, source: string, unit: number): Promise<void> {
  const b = await parseBitmap(bitmap);
  assert.equal(b.magic, ORIGINAL_MAGIC);
  assert.equal(b.deviceSize, SIZE);
  assert.equal(b.blockSize, unit);
  assert.equal(b.hashId, 0);
  const wanted = await blockDigestsOfFile(source, unit);
  assert.equal(b.fileSize, 25 + wanted.length * 20);
  const entries = entriesOf(b.body, 20);
  for (let i = 0; i < wanted.length; i++) {
    assert.ok(entries[i]!.equals(wanted[i]!), `bitmap entry ${i} is ${entries[i]!.toString('hex')}, source digest ${wanted[i]!.toString('hex')}`);
  }
}

async function assertSame(a: string, b: string, what: string): Promise<void> {
  assert.equal(await cmp(a, b), true, `${what}: cmp ${a} ${b} finds a difference`);
}

/** Source reads: the whole device; a PULL may read a sent block again to send it. */
function assertSourceRead(way: Way, r: Result, sent: number): void {
  if (way.action === 'PUSH') assert.equal(r.source.read, SIZE, 'source bytes read');
  else assert.ok(r.source.read >= SIZE && r.source.read <= SIZE + sent, `source read ${r.source.read}, expected ${SIZE}..${SIZE + sent}`);
  assert.equal(r.source.wrote, 0, 'source bytes written');
}

const WAYS: Way[] = [];
for (const ssh of [false, true]) for (const action of ['PUSH', 'PULL'] as const) for (const chunk of [false, true]) WAYS.push({ action, ssh, chunk });

// The eight ways are independent (own folders): run them side by side.
describe('bitmap SYNC end to end', { concurrency: 4 }, () => {
  for (const way of WAYS) {
    const name = `${way.action} ${way.ssh ? 'over SSH' : 'locally'}${way.chunk ? ' with --chunk' : ''}`;
    describe(`bitmap SYNC ${name}`, () => {
      it('creates, reuses, sends changes only, updates and resets the bitmap; cmp after each run', async (t) => {
        if (way.ssh && typeof sshd === 'string') return t.skip(sshd);
        const dir = await makeTempDir('basyn-bitmap-e2e-');
        try {
          const src = join(dir.path, 'source.img');
          const dst = join(dir.path, 'destination.img');
          const bitmap = join(dir.path, 'image.bitmap');
          await writeImage(src, SIZE, 11);
          await writeImage(dst, SIZE, 12);
          const unit = way.chunk ? CHUNK : BLOCK;
          const units = Math.ceil(SIZE / unit);

          // 1. No bitmap yet: it is created, everything is sent, the destination is not read.
          let r = await bitmapRun(way, src, dst, bitmap);
          assert.equal(r.destination.read, 0, 'create: destination bytes read');
          assert.equal(r.destination.wrote, SIZE, 'create: destination bytes written');
          assertSourceRead(way, r, SIZE);
          assert.ok(r.traffic >= SIZE, `create: traffic ${r.traffic} < ${SIZE}`);
          await assertSame(src, dst, 'create');
          await assertBitmapMatches(bitmap, src, unit);

          // 2. Reuse without the spot check: nothing is read from or written to the destination.
          r = await bitmapRun(way, src, dst, bitmap, ['--no-bitmap-check']);
          assert.deepEqual(r.destination, { read: 0, wrote: 0 }, 'reuse: destination I/O');
          assertSourceRead(way, r, 0);
          assert.ok(r.traffic < BLOCK / 8, `reuse: traffic ${r.traffic} B, more than an eighth of a block`);
          await assertSame(src, dst, 'reuse');

          // 3. Reuse with the spot check: at most 8 destination units are read, nothing written.
          r = await bitmapRun(way, src, dst, bitmap);
          assert.ok(r.destination.read > 0 && r.destination.read <= 8 * unit, `reuse: spot check read ${r.destination.read} B, expected 1..${8 * unit}`);
          assert.equal(r.destination.wrote, 0, 'reuse: destination bytes written');
          assert.ok(r.traffic < BLOCK / 8, `reuse: traffic ${r.traffic} B`);
          await assertSame(src, dst, 'reuse with spot check');

          // 4. Change the source in two chunks of block 2, one chunk of block 17 and the
          //    short last block: only the units holding them are sent.
          await scribble(src, [2 * BLOCK + CHUNK + 100, 2 * BLOCK + 3 * CHUNK + 5, 17 * BLOCK + 7, SIZE - 300], 200, 1000);
          const sent = way.chunk ? 3 * CHUNK + LAST : 2 * BLOCK + LAST;
          r = await bitmapRun(way, src, dst, bitmap, ['--no-bitmap-check']);
          assert.equal(r.destination.read, 0, 'change: destination bytes read');
          assert.equal(r.destination.wrote, sent, 'change: destination bytes written');
          assertSourceRead(way, r, sent);
          assert.ok(r.traffic >= sent * 0.9 && r.traffic < sent + BLOCK / 4, `change: traffic ${r.traffic} B for ${sent} B of changed units`);
          if (way.chunk) assert.ok(r.traffic < 2 * BLOCK, `change: --chunk traffic ${r.traffic} B is not below the two changed blocks`);
          await assertSame(src, dst, 'change');
          await assertBitmapMatches(bitmap, src, unit);

          // 5. --update-bitmap after an out-of-band change of the destination (unit 5) and a
          //    change of the source (unit 9): both sides are read, the two units are sent.
          await scribble(dst, [5 * unit + 10], 50, 2000);
          await scribble(src, [9 * unit + 10], 50, 3000);
          r = await bitmapRun(way, src, dst, bitmap, ['--update-bitmap']);
          assert.equal(r.destination.read, SIZE, 'update: destination bytes read');
          assert.equal(r.destination.wrote, 2 * unit, 'update: destination bytes written');
          assertSourceRead(way, r, 2 * unit);
          assert.ok(r.traffic < 2 * unit + BLOCK / 4 + (units * 20 * (way.action === 'PUSH' ? 1 : 2)), `update: traffic ${r.traffic} B`);
          await assertSame(src, dst, 'update');
          await assertBitmapMatches(bitmap, src, unit);
          // ...and the bitmap is now right: a bitmap run (spot check on) sends nothing.
          r = await bitmapRun(way, src, dst, bitmap);
          assert.equal(r.destination.wrote, 0, 'after update: destination bytes written');
          assert.ok(r.destination.read <= 8 * unit, 'after update: spot check reads at most 8 units');
          assert.ok(r.traffic < BLOCK / 8, `after update: traffic ${r.traffic} B`);
          await assertSame(src, dst, 'after update');

          // 6. --reset-bitmap after the destination was damaged behind the bitmap's back:
          //    everything is sent, the destination is not read, the damage is repaired.
          await scribble(dst, [3 * unit, 30 * BLOCK], 100, 4000);
          r = await bitmapRun(way, src, dst, bitmap, ['--reset-bitmap']);
          assert.equal(r.destination.read, 0, 'reset: destination bytes read');
          assert.equal(r.destination.wrote, SIZE, 'reset: destination bytes written');
          assertSourceRead(way, r, SIZE);
          await assertSame(src, dst, 'reset');
          await assertBitmapMatches(bitmap, src, unit);

          // 7. And a last plain bitmap run sends nothing.
          r = await bitmapRun(way, src, dst, bitmap, ['--no-bitmap-check']);
          assert.deepEqual(r.destination, { read: 0, wrote: 0 }, 'final: destination I/O');
          assert.ok(r.traffic < BLOCK / 8, `final: traffic ${r.traffic} B`);
          await assertSame(src, dst, 'final');
        } finally {
          await dir.remove();
        }
      });

      // PUSH without -r starts no agent: it has no SSH variant.
      if (!(way.ssh && way.action === 'PUSH')) it('without a destination only brings the bitmap up to date', async (t) => {
        if (way.ssh && typeof sshd === 'string') return t.skip(sshd);
        const dir = await makeTempDir('basyn-bitmap-only-');
        try {
          const src = join(dir.path, 'source.img');
          const bitmap = join(dir.path, 'image.bitmap');
          await writeImage(src, SIZE, 21);
          const unit = way.chunk ? CHUNK : BLOCK;
          const before = await sha256File(src);

          let r = await bitmapRun(way, src, undefined, bitmap);
          assert.deepEqual(r.source, { read: SIZE, wrote: 0 }, 'source I/O');
          const other = way.action === 'PUSH' ? r.io.remote : r.io.local;
          assert.deepEqual(other, { read: 0, wrote: 0 }, 'the side without a device does no I/O');
          assert.equal(await sha256File(src), before, 'the source is unchanged');
          await assertBitmapMatches(bitmap, src, unit);

          // A changed source: the bitmap follows it, still nothing written anywhere.
          await scribble(src, [4 * unit + 1, SIZE - 10], 5, 5000);
          const changed = await sha256File(src);
          r = await bitmapRun(way, src, undefined, bitmap);
          assert.equal(r.source.wrote, 0);
          assert.equal(r.destination.wrote, 0);
          assert.equal(await sha256File(src), changed, 'the source is unchanged by the run');
          await assertBitmapMatches(bitmap, src, unit);

          // The bitmap written without a destination then serves a run with one:
          // a destination equal to the source receives nothing.
          const dst = join(dir.path, 'destination.img');
          await copyFile(src, dst);
          r = await bitmapRun(way, src, dst, bitmap);
          assert.equal(r.destination.wrote, 0, 'destination bytes written');
          await assertSame(src, dst, 'bitmap-only then with destination');
        } finally {
          await dir.remove();
        }
      });
    });
  }

  for (const action of ['PUSH', 'PULL'] as const) {
    it(`--dry-run with a bitmap writes neither the destination nor the bitmap (${action})`, async () => {
      const way: Way = { action, ssh: false, chunk: false };
      const dir = await makeTempDir('basyn-bitmap-dry-');
      try {
        const src = join(dir.path, 'source.img');
        const dst = join(dir.path, 'destination.img');
        const bitmap = join(dir.path, 'image.bitmap');
        await writeImage(src, SIZE, 31);
        await writeImage(dst, SIZE, 32);
        const args = (extra: string[]): string[] => {
          const [local, remote] = action === 'PUSH' ? [src, dst] : [dst, src];
          return ['-l', local, '-r', remote, '-a', action, '-m', 'SYNC', '-b', bitmap, '--buffer', String(BLOCK / KiB), ...extra];
        };
        // No bitmap yet: a dry run does not create one.
        const destinationBefore = await sha256File(dst);
        let run = await runBasyn(args(['--dry-run']));
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, new RegExp(`41 of 41 blocks differ; a real run would send ${SIZE} bytes`));
        assert.equal(existsSync(bitmap), false, 'no bitmap created');
        assert.equal(await sha256File(dst), destinationBefore, 'destination unchanged');
        // With a bitmap: the differing blocks are counted, nothing is written.
        await bitmapRun(way, src, dst, bitmap);
        await scribble(src, [7 * BLOCK], 10, 33);
        const bitmapBefore = await sha256File(bitmap);
        const synced = await sha256File(dst);
        run = await runBasyn(args(['--dry-run']));
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, new RegExp(`1 of 41 blocks differ; a real run would send ${BLOCK} bytes`));
        assert.equal(await sha256File(bitmap), bitmapBefore, 'bitmap unchanged');
        assert.equal(await sha256File(dst), synced, 'destination unchanged');
        // ...and the real run after it sends exactly that block.
        const r = await bitmapRun(way, src, dst, bitmap);
        assert.equal(r.destination.wrote, BLOCK);
        await assertSame(src, dst, 'after the dry run');
      } finally {
        await dir.remove();
      }
    });
  }
});
