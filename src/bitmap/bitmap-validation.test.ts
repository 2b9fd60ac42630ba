/**
 * Each way a bitmap can fail validation, through the real command: exit 2, one line
 * naming the field with the expected and the found value and the way out
 * (--reset-bitmap; never for a file that is not a bitmap, see
 * reset-never-destroys-foreign-files.test.ts), and the bitmap file and the
 * destination byte-identical before and after. Locally (PUSH) and over SSH (PULL, destination on this machine).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { errorLines } from '../test-support/bitmap-files.js';
import { scribble, sha256File, writeImage } from '../test-support/images.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { sharedSshd, type SshdFixture } from '../test-support/sshd.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const KiB = 1024;
const BLOCK = 32 * KiB;
const SIZE = 20 * BLOCK + 1000;
const ENTRIES = 21;
const FILE_SIZE = 25 + ENTRIES * 20;

let sshd: SshdFixture | string = 'not started';
before(async () => {
  sshd = await sharedSshd();
});
after(async () => {
  if (typeof sshd !== 'string') await sshd.stop();
});

interface Case {
  name: string;
  /** Damages the bitmap file (a valid one for SIZE, BLOCK, SHA1). */
  damage?: (bitmap: string) => Promise<void>;
  /** Options that make this run expect something else than the file holds. */
  options?: string[];
  message: RegExp;
  /** Not a bitmap at all (no magic number): nothing may suggest replacing it. */
  foreign?: boolean;
}

async function patch(path: string, offset: number, bytes: Buffer): Promise<void> {
  const f = await open(path, 'r+');
  try {
    await f.write(bytes, 0, bytes.length, offset);
  } finally {
    await f.close();
  }
}

const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

const CASES: Case[] = [
  {
    name: 'wrong magic number',
    damage: (b) => patch(b, 0, u64(0x0102030405060708n)),
    message: new RegExp(`not a basyn bitmap: its first 8 bytes read ${0x0102030405060708n}, it does not start with the bitmap magic number 239840023593485091`),
    foreign: true,
  },
  {
    name: 'different device size',
    damage: (b) => patch(b, 8, u64(BigInt(SIZE + 4096))),
    message: new RegExp(`device size is ${SIZE + 4096} bytes, expected ${SIZE}`),
  },
  {
    name: 'different block size (--buffer changed)',
    options: ['--buffer', '16'],
    message: new RegExp(`block size is ${BLOCK} bytes, expected ${16 * KiB}`),
  },
  {
    name: 'different block size (--chunk added)',
    options: ['--buffer', String(BLOCK / KiB), '--chunk', '8'],
    message: new RegExp(`block size is ${BLOCK} bytes, expected ${8 * KiB}`),
  },
  {
    name: 'different hash (--hash changed)',
    options: ['--buffer', String(BLOCK / KiB), '--hash', 'MD5'],
    message: /hash is SHA1 \(id 0\), expected MD5 \(id 7\)/,
  },
  {
    name: 'file one byte too long',
    damage: async (b) => writeFile(b, Buffer.concat([await readFile(b), Buffer.from([1])])),
    message: new RegExp(`file is ${FILE_SIZE + 1} bytes, expected ${FILE_SIZE}`),
  },
  {
    name: 'file one entry short',
    damage: (b) => truncate(b, FILE_SIZE - 20),
    message: new RegExp(`file is ${FILE_SIZE - 20} bytes, expected ${FILE_SIZE}`),
  },
];

type Way = { action: 'PUSH' | 'PULL'; ssh: boolean };

describe('bitmap validation failures', { concurrency: 4 }, () => {
  for (const way of [{ action: 'PUSH', ssh: false }, { action: 'PULL', ssh: true }] as Way[]) {
    for (const c of CASES) {
      it(`${c.name}: exit 2, one line, bitmap and destination untouched (${way.action}${way.ssh ? ' over SSH' : ''})`, async (t) => {
        if (way.ssh && typeof sshd === 'string') return t.skip(sshd);
        const dir = await makeTempDir('basyn-bitmap-invalid-');
        try {
          const src = join(dir.path, 'source.img');
          const dst = join(dir.path, 'destination.img');
          const bitmap = join(dir.path, 'image.bitmap');
          await writeImage(src, SIZE, 51);
          await copyFile(src, dst);
          const args = (extra: string[]): string[] => {
            const [local, remote] = way.action === 'PUSH' ? [src, dst] : [dst, src];
            const ssh = way.ssh && typeof sshd !== 'string' ? ['-h', sshd.host, '-p', String(sshd.port)] : [];
            return ['-l', local, '-r', remote, '-a', way.action, '-m', 'SYNC', '-b', bitmap, ...ssh, ...extra];
          };
          const env = way.ssh && typeof sshd !== 'string' ? sshd.env : process.env;
          // A valid bitmap for this pair, made locally (cheaper), then a source that differs,
          // so a run that went ahead would write to the destination.
          const made = await runBasyn(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', String(BLOCK / KiB)]);
          assert.equal(made.code, 0, made.stderr);
          await scribble(src, [0, 7 * BLOCK, SIZE - 10], 10, 9);
          await c.damage?.(bitmap);
          const bitmapBefore = await sha256File(bitmap);
          const destinationBefore = await sha256File(dst);
          const sourceBefore = await sha256File(src);

          const run = await runBasyn(args(c.options ?? ['--buffer', String(BLOCK / KiB)]), { env });
          assert.equal(run.code, 2, `exit code; stderr:\n${run.stderr}`);
          const lines = errorLines(run.stderr);
          assert.equal(lines.length, 1, `one line on stderr, got:\n${run.stderr}`);
          assert.match(lines[0]!, /^basyn: /);
          assert.match(lines[0]!, c.message);
          if (c.foreign === true) assert.doesNotMatch(lines[0]!, /reset|delete/);
          else assert.match(lines[0]!, /--reset-bitmap/);
          assert.ok(lines[0]!.includes(bitmap), 'the line names the bitmap file');
          assert.equal(await sha256File(bitmap), bitmapBefore, 'bitmap file unchanged');
          assert.equal(await sha256File(dst), destinationBefore, 'destination unchanged');
          assert.equal(await sha256File(src), sourceBefore, 'source unchanged');
          assert.equal(existsSync(`${bitmap}.lock`), false, 'no lock file left behind');
        } finally {
          await dir.remove();
        }
      });
    }
  }

  it('a bitmap-only run (no destination) also leaves an invalid bitmap untouched', async () => {
    const dir = await makeTempDir('basyn-bitmap-invalid-');
    try {
      const src = join(dir.path, 'source.img');
      const bitmap = join(dir.path, 'image.bitmap');
      await writeImage(src, SIZE, 52);
      const made = await runBasyn(['-l', src, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', String(BLOCK / KiB)]);
      assert.equal(made.code, 0, made.stderr);
      await scribble(src, [BLOCK], 10, 9);
      const before = await sha256File(bitmap);
      const run = await runBasyn(['-l', src, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', '64']);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, new RegExp(`block size is ${BLOCK} bytes, expected ${64 * KiB}.*--reset-bitmap`));
      assert.equal(await sha256File(bitmap), before);
    } finally {
      await dir.remove();
    }
  });

  it('--reset-bitmap is the way out: the same damaged file is then rebuilt and the run succeeds', async () => {
    const dir = await makeTempDir('basyn-bitmap-invalid-');
    try {
      const src = join(dir.path, 'source.img');
      const dst = join(dir.path, 'destination.img');
      const bitmap = join(dir.path, 'image.bitmap');
      await writeImage(src, SIZE, 53);
      await writeImage(dst, SIZE, 54);
      const args = ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap, '--buffer', String(BLOCK / KiB)];
      // A bitmap damaged past its header (it is one: it starts with the magic number).
      assert.equal((await runBasyn(args)).code, 0);
      await truncate(bitmap, 30);
      await writeImage(dst, SIZE, 54);
      assert.equal((await runBasyn(args)).code, 2);
      const run = await runBasyn([...args, '--reset-bitmap']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal((await readFile(bitmap)).length, FILE_SIZE);
      assert.equal(await sha256File(src), await sha256File(dst));
    } finally {
      await dir.remove();
    }
  });
});
