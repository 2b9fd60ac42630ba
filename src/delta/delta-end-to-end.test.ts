/**
 * Delta files through the real command: made locally and over ssh, against a bitmap
 * and against the destination, with and without --chunk, carried as a file and
 * through a pipe, applied here and over ssh; the destination is compared with cmp
 * after each apply, and a destination a refused delta was meant for stays
 * byte-identical.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cmp, scribble, sha256File, writeImage } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { describeRun, runBasyn, type BasynRun } from '../test-support/run-basyn.js';
import { sharedSshd, type SshdFixture } from '../test-support/sshd.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const KiB = 1024;
const BLOCK = 64 * KiB;
const CHUNK = 16 * KiB;
/** 48 blocks and a short one. */
const SIZE = 48 * BLOCK + 5_000;

const dir = tempDirForFile('basyn-delta-');
let sshd: SshdFixture | string = 'not started';
before(async () => {
  sshd = await sharedSshd();
});
after(async () => {
  if (typeof sshd !== 'string') await sshd.stop();
});

let seed = 100;
const p = (name: string): string => join(dir.path, name);

/** The options that put the "remote" device behind ssh, and its environment. */
function ssh(): { args: string[]; env: NodeJS.ProcessEnv } {
  if (typeof sshd === 'string') throw new Error(sshd);
  return { args: ['-h', sshd.host, '-p', String(sshd.port)], env: sshd.env };
}

async function ok(args: string[], env?: NodeJS.ProcessEnv): Promise<BasynRun> {
  const r = await runBasyn(args, { env });
  assert.equal(r.code, 0, describeRun(r));
  return r;
}

/** Changes a few scattered ranges (some inside one chunk only), and one block to zeros. */
async function change(path: string): Promise<void> {
  await scribble(path, [0, 5 * BLOCK + 3 * CHUNK, 17 * BLOCK + 100, SIZE - 10], 10, seed++);
  const f = await import('node:fs/promises').then((m) => m.open(path, 'r+'));
  await f.write(Buffer.alloc(BLOCK), 0, BLOCK, 30 * BLOCK);
  await f.close();
}

async function images(name: string): Promise<{ src: string; dst: string }> {
  const src = p(`${name}.src`);
  const dst = p(`${name}.dst`);
  await writeImage(src, SIZE, seed++);
  await copyFile(src, dst);
  return { src, dst };
}

const skipSsh = (): string | undefined => (typeof sshd === 'string' ? `no sshd: ${sshd}` : undefined);

describe('a delta made, carried and applied', () => {
  for (const withBitmap of [true, false]) {
    for (const chunk of [false, true]) {
      for (const where of ['here', 'over ssh'] as const) {
        const name = `${withBitmap ? 'against a bitmap' : 'against the destination'}${chunk ? ', with --chunk' : ''}, made and applied ${where}`;
        it(name, async (t) => {
          if (where === 'over ssh' && skipSsh() !== undefined) return t.skip(skipSsh());
          const { src, dst } = await images(`m${seed}`);
          const remote = where === 'over ssh' ? ssh() : { args: [], env: process.env };
          const unit = ['--buffer', String(BLOCK / KiB), ...(chunk ? ['--chunk', String(CHUNK / KiB)] : [])];
          const bitmap = p(`m${seed}.bitmap`);
          if (withBitmap) await ok(['-l', src, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', ...unit]);
          await change(src);
          const delta = p(`m${seed}.delta`);
          const dstBefore = await sha256File(dst);
          if (withBitmap) {
            // PULL over ssh: the source is the remote one, the bitmap and the delta are here.
            const made = where === 'over ssh'
              ? await ok(['-r', src, ...remote.args, '-b', bitmap, '-a', 'PULL', '-m', 'SYNC', ...unit, '--write-delta', delta, '--stat'], remote.env)
              : await ok(['-l', src, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', ...unit, '--write-delta', delta, '--stat']);
            assert.match(made.stdout, /^DELTA\. Written: \d+ entries/m);
          } else {
            await ok(['-l', src, '-r', dst, ...remote.args, '-a', 'PUSH', '-m', 'SYNC', ...unit, '--write-delta', delta], remote.env);
            assert.equal(await sha256File(dst), dstBefore, 'making a delta leaves the destination as it was');
          }
          const size = (await stat(delta)).size;
          // Only what changed is carried: 6 units at most, a zero one as a marker.
          assert.ok(size < 6 * (chunk ? CHUNK : BLOCK) + 1000, `delta of ${size} bytes`);
          const applied = await ok(['--apply-delta', delta, where === 'over ssh' ? '-r' : '-l', dst, ...remote.args, '--stat'], remote.env);
          assert.match(applied.stdout, /^DELTA\. Applied: \d+ entries.*already in place: 0\./m);
          assert.equal(await cmp(src, dst), true, 'destination equals the source after the apply');
          if (withBitmap) {
            // The bitmap advanced: a second delta is empty.
            const again = p(`m${seed}.again`);
            await ok(['-l', src, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', ...unit, '--write-delta', again, '--stat']);
            assert.match((await ok(['-l', src, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', ...unit, '--write-delta', p(`m${seed}.third`), '--stat'])).stdout, /Written: 0 entries/);
          }
        });
      }
    }
  }

  it('through a pipe: basyn ... --write-delta=- | basyn --apply-delta=- -r DST -h HOST', async (t) => {
    if (skipSsh() !== undefined) return t.skip(skipSsh());
    const { src, dst } = await images('pipe');
    const bitmap = p('pipe.bitmap');
    await ok(['-l', src, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64']);
    await change(src);
    const { args, env } = ssh();
    const q = (s: string): string => `'${s}'`;
    const basyn = `${q(process.execPath)} ${q(BASYN_BIN)}`;
    const line = `${basyn} -l ${q(src)} -b ${q(bitmap)} -a PUSH -m SYNC --buffer 64 --write-delta=- --stat | ${basyn} --apply-delta=- -r ${q(dst)} ${args.map(q).join(' ')} --stat`;
    const r = await new Promise<BasynRun>((resolve) => {
      const child = spawn('bash', ['-o', 'pipefail', '-c', line], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    assert.equal(r.code, 0, describeRun(r));
    // The maker's report goes to stderr (stdout carries the delta); the applier's to stdout.
    assert.match(r.stderr, /^DELTA\. Written: 5 entries/m);
    assert.match(r.stdout, /^DELTA\. Applied: 5 entries/m);
    assert.equal(await cmp(src, dst), true);
  });
});

describe('an apply that must not happen is refused, and writes nothing', () => {
  /** Source, a destination equal to its first state, and three deltas of one bitmap. */
  async function chain(name: string): Promise<{ src: string; dst: string; deltas: string[] }> {
    const { src, dst } = await images(name);
    const bitmap = p(`${name}.bitmap`);
    await ok(['-l', src, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64']);
    const deltas: string[] = [];
    for (let i = 1; i <= 3; i++) {
      // Each step changes block 0 (so the order matters there) and a block of its own.
      await scribble(src, [100, i * 7 * BLOCK], 50, seed++);
      deltas.push(p(`${name}.d${i}`));
      await ok(['-l', src, '-b', bitmap, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--write-delta', deltas.at(-1)!]);
    }
    return { src, dst, deltas };
  }

  it('a chain of three applies in order, in one run and one by one; out of order it is refused', async () => {
    const { src, dst, deltas } = await chain('chain');
    const original = await sha256File(dst);
    for (const order of [[1, 0, 2], [0, 2, 1], [2, 1, 0]]) {
      const r = await runBasyn([...order.flatMap((i) => ['--apply-delta', deltas[i]!]), '-l', dst]);
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, /out of order/);
      assert.equal(await sha256File(dst), original, `order ${order.join(',')} wrote something`);
    }
    // One at a time, the third first: block 0 holds neither its before nor its after.
    const third = await runBasyn(['--apply-delta', deltas[2]!, '-l', dst]);
    assert.equal(third.code, 2, describeRun(third));
    assert.match(third.stderr, /at offset 0 \(65536 bytes\)/);
    assert.equal(await sha256File(dst), original);
    const copy = p('chain.copy');
    await copyFile(dst, copy);
    await ok([...deltas.flatMap((d) => ['--apply-delta', d]), '-l', dst]);
    assert.equal(await cmp(src, dst), true, 'chain in one run');
    for (const d of deltas) await ok(['--apply-delta', d, '-l', copy]);
    assert.equal(await cmp(src, copy), true, 'chain one by one');
    // Applied again: nothing to do, exit 0; the whole chain again too.
    const twice = await ok(['--apply-delta', deltas[2]!, '-l', dst, '--json']);
    assert.equal(JSON.parse(twice.stdout).writes, 0);
    assert.equal(JSON.parse(twice.stdout).delta.skipped, JSON.parse(twice.stdout).delta.entries);
    await ok([...deltas.flatMap((d) => ['--apply-delta', d]), '-l', dst]);
    assert.equal(await cmp(src, dst), true);
    // An older delta after the newer ones: block 0 holds a later state.
    const stale = await runBasyn(['--apply-delta', deltas[0]!, '-l', dst]);
    assert.equal(stale.code, 2, describeRun(stale));
    assert.equal(await cmp(src, dst), true);
  });

  it('a delta for another base is refused naming the first offset; --force applies it', async () => {
    const { src, dst, deltas } = await chain('base');
    await scribble(dst, [7 * BLOCK + 5], 10, seed++);
    const before = await sha256File(dst);
    const r = await runBasyn(['--apply-delta', deltas[0]!, '-l', dst]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, new RegExp(`at offset ${7 * BLOCK} `));
    assert.match(r.stderr, /nothing was written/);
    assert.equal(await sha256File(dst), before);
    await ok(['--apply-delta', deltas[0]!, '-l', dst, '--force']);
    await ok(['--apply-delta', deltas[1]!, '--apply-delta', deltas[2]!, '-l', dst]);
    assert.equal(await cmp(src, dst), true);
  });

  it('a truncated, a bit-flipped, a lengthened and a wrong-device-size delta are refused, locally and over ssh', async (t) => {
    const { dst, deltas } = await chain('bad');
    const good = await readFile(deltas[0]!);
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)]! ^= 0x10;
    const header = Buffer.from(good);
    header.writeBigUInt64LE(BigInt(SIZE + 4096), 16);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', good.subarray(0, good.length - 100), /truncated/],
      ['truncated to its header', good.subarray(0, 40), /truncated/],
      ['bit-flipped', flipped, /damaged|truncated/],
      ['lengthened', Buffer.concat([good, Buffer.alloc(1)]), /appended|damaged/],
      ['not a delta', Buffer.from('hello'), /not a basyn delta/],
      ['wrong device size', header, /damaged|device of/],
    ];
    const before = await sha256File(dst);
    for (const remote of [false, true]) {
      if (remote && skipSsh() !== undefined) {
        t.diagnostic(`over ssh skipped: ${skipSsh()}`);
        continue;
      }
      for (const [what, bytes, message] of cases) {
        const file = p(`bad.${what.replace(/ /g, '-')}`);
        await writeFile(file, bytes);
        const args = remote ? ['--apply-delta', file, '-r', dst, ...ssh().args] : ['--apply-delta', file, '-l', dst];
        const r = await runBasyn(args, { env: remote ? ssh().env : process.env });
        assert.equal(r.code, 2, `${what}: ${describeRun(r)}`);
        assert.match(r.stderr, message, what);
        assert.equal(await sha256File(dst), before, `${what}: the destination changed`);
      }
    }
  });

  it('a delta of another device size (its checksum intact) is refused', async () => {
    const { deltas } = await chain('size');
    const other = p('size.other');
    await writeImage(other, SIZE + BLOCK, seed++);
    const before = await sha256File(other);
    const r = await runBasyn(['--apply-delta', deltas[0]!, '-l', other]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(r.stderr, new RegExp(`is for a device of ${SIZE} bytes`));
    assert.equal(await sha256File(other), before);
  });
});

describe('delta options that do not fit are usage errors (exit 1)', () => {
  const cases: [string, string[], RegExp][] = [
    ['--apply-delta with -a', ['--apply-delta', 'd', '-l', 'x', '-a', 'PUSH', '-m', 'SYNC'], /takes no -a\/--action/],
    ['--apply-delta with both devices', ['--apply-delta', 'd', '-l', 'x', '-r', 'y'], /needs one device/],
    ['--apply-delta without a device', ['--apply-delta', 'd'], /needs one device/],
    ['--apply-delta - twice', ['--apply-delta', '-', '--apply-delta', '-', '-l', 'x'], /standard input/],
    ['--force alone', ['-l', 'x', '-r', 'y', '--force'], /--force needs --apply-delta/],
    ['--write-delta with COPY', ['-l', 'x', '-r', 'y', '-a', 'PUSH', '-m', 'COPY', '--write-delta', 'd'], /needs -m\/--mode SYNC/],
    ['--write-delta with --recheck', ['-l', 'x', '-r', 'y', '-a', 'PUSH', '-m', 'SYNC', '--write-delta', 'd', '--recheck'], /writes no destination/],
    ['--write-delta with a bitmap and a destination', ['-l', 'x', '-r', 'y', '-b', 'b', '-a', 'PUSH', '-m', 'SYNC', '--write-delta', 'd'], /reads no destination/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await runBasyn(args);
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, message);
    });
  }
});
