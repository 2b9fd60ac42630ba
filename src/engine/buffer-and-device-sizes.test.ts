/**
 * Sizes at the edges: --buffer of 4, 64, 2048 and 8192 KiB; devices of 1 byte,
 * exactly one block, one block + 1 byte, and 24 MiB of random data with scattered
 * changes (also at a size that is a multiple of neither buffer nor chunk). Locally
 * and over SSH, with cmp after every run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cmp, devicesFor, imagePair, sha256File } from '../test-support/images.js';
import { describeRun, parseStat, runBasyn } from '../test-support/run-basyn.js';
import { bothTargets, type Target } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const targets = await bothTargets();
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir();
});
after(async () => {
  await dir.remove();
});

/** Runs one transfer between a fresh pair and checks the outcome with cmp. */
async function transfer(
  target: Target,
  action: 'PUSH' | 'PULL',
  mode: string[],
  size: number,
  changes: number[] | 'all',
): Promise<ReturnType<typeof parseStat>> {
  n++;
  const p = await imagePair(dir.path, `s${n}`, size, 300 + n, changes);
  assert.equal(await cmp(p.source, p.destination), false, 'the images must differ before the run');
  const sourceHash = await sha256File(p.source);
  const { local, remote } = devicesFor(action, p);
  const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', action, ...mode, '--stat'], { env: target.env });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(p.source, p.destination), `cmp: devices differ after ${action} ${mode.join(' ')} of ${size} bytes`);
  assert.equal(await sha256File(p.source), sourceHash, 'the source changed');
  const stat = parseStat(r.stdout);
  assert.ok(stat !== undefined, r.stdout);
  assert.equal(stat.size, size);
  return stat;
}

/** Offsets spread over the device: start, end, block boundaries and between. */
function scattered(size: number, block: number): number[] {
  const out = [0, size - 1, Math.floor(size / 3), Math.floor(size / 2) + 17];
  for (let at = block; at < size; at += 5 * block) out.push(at - 1, at); // both sides of a boundary
  return out;
}

for (const { target, skip } of targets) {
  describe(`over ${target.name}`, { skip }, () => {
    describe('buffer sizes', () => {
      for (const kib of [4, 64, 2048, 8192]) {
        const block = kib * KiB;
        // Two and a bit blocks, at least 1 MiB: never a multiple of the buffer.
        const size = Math.max(2 * block, MiB) + 4097;
        test(`--buffer=${kib}: PUSH SYNC`, async () => {
          await transfer(target, 'PUSH', ['-m', 'SYNC', `--buffer=${kib}`], size, scattered(size, block));
        });
        test(`--buffer=${kib}: PULL SYNC --chunk=${Math.max(1, kib / 4)}`, async () => {
          await transfer(target, 'PULL', ['-m', 'SYNC', `--buffer=${kib}`, `--chunk=${Math.max(1, kib / 4)}`], size, scattered(size, block));
        });
        test(`--buffer=${kib}: PUSH COPY`, async () => {
          await transfer(target, 'PUSH', ['-m', 'COPY', `--buffer=${kib}`, '--zlevel=1'], size, 'all');
        });
      }
    });

    describe('small buffers with long digests', () => {
      // 1024 digests of 64 bytes per DIGESTS frame used to overflow the 64 KiB frame limit.
      for (const hash of ['SHA512', 'BLAKE2B', 'SHA384']) {
        for (const action of ['PUSH', 'PULL'] as const) {
          test(`--buffer=4 --hash=${hash}: ${action} SYNC of 5 MiB`, async () => {
            const size = 5 * MiB + 1;
            await transfer(target, action, ['-m', 'SYNC', '--buffer=4', `--hash=${hash}`], size, scattered(size, 4 * KiB));
          });
        }
      }
      test('--buffer=1 --hash=SHA512: PUSH SYNC of 5 MiB', async () => {
        const size = 5 * MiB + 1;
        await transfer(target, 'PUSH', ['-m', 'SYNC', '--buffer=1', '--hash=SHA512'], size, scattered(size, 256 * KiB));
      });
    });

    describe('device sizes', () => {
      const block = 64 * KiB;
      const sizes = [
        { name: '1 byte', size: 1, changes: [0] },
        { name: 'exactly one block', size: block, changes: [0, block - 1] },
        { name: 'one block + 1 byte', size: block + 1, changes: [block] },
      ];
      for (const s of sizes) {
        const runs = [
          { action: 'PUSH', mode: ['-m', 'SYNC'] },
          { action: 'PULL', mode: ['-m', 'SYNC', '--chunk=16'] },
          { action: 'PUSH', mode: ['-m', 'COPY'] },
          { action: 'PULL', mode: ['-m', 'COPY'] },
        ] as const;
        for (const { action, mode } of runs) {
          test(`${s.name}: ${action} ${mode.slice(1).join(' ')}`, async () => {
            await transfer(target, action, [...mode, '--buffer=64'], s.size, s.changes);
          });
        }
      }
      test('exactly one default block (2 MiB): PUSH SYNC', async () => {
        await transfer(target, 'PUSH', ['-m', 'SYNC'], 2 * MiB, [2 * MiB - 1]);
      });
    });

    describe('24 MiB of random data with scattered changes', () => {
      const big = 24 * MiB;
      const odd = 24 * MiB + 12_345; // a multiple of neither --buffer nor --chunk
      test('PUSH SYNC, default buffer: only the differing blocks travel', async () => {
        const changes = [5 * MiB + 3, 13 * MiB, 23 * MiB + 100];
        const stat = await transfer(target, 'PUSH', ['-m', 'SYNC'], big, changes);
        // Three 2 MiB blocks differ (raw random data), plus digests and framing.
        assert.ok(stat!.tx >= 3 * 2 * MiB && stat!.tx < 4 * 2 * MiB, `Tx ${stat!.tx}`);
      });
      test('PULL SYNC --buffer=192 --chunk=20 on an odd size', async () => {
        const changes = scattered(odd, 192 * KiB);
        const stat = await transfer(target, 'PULL', ['-m', 'SYNC', '--buffer=192', '--chunk=20'], odd, changes);
        assert.ok(stat!.rx < odd / 4, `Rx ${stat!.rx}: chunks should keep the traffic small`);
      });
      test('PUSH COPY on an odd size', async () => {
        await transfer(target, 'PUSH', ['-m', 'COPY', '--buffer=1000'], odd, 'all');
      });
      test('PULL SYNC --hash=BLAKE2B on an odd size with every block changed', async () => {
        await transfer(target, 'PULL', ['-m', 'SYNC', '--hash=BLAKE2B', '--buffer=512'], odd, 'all');
      });
    });
  });
}
