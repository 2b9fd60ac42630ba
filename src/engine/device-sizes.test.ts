/**
 * Device sizes at the edges: 1 byte, exactly one block, one block + 1 byte, and 24
 * MiB of random data with scattered changes (also at a size that is a multiple of
 * neither buffer nor chunk), locally and over SSH, with cmp after every run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bothTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { scatteredOffsets, transferAndCompare } from '../test-support/transfer.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const targets = await bothTargets();
const dir = tempDirForFile();

for (const { target, skip } of targets) {
  describe(`over ${target.name}`, { skip }, () => {
    describe('edge sizes (--buffer=64)', () => {
      const block = 64 * KiB;
      const sizes = [
        { name: '1 byte', size: 1, changes: [0] },
        { name: 'exactly one block', size: block, changes: [0, block - 1] },
        { name: 'one block + 1 byte', size: block + 1, changes: [block] },
      ];
      const runs = [
        { action: 'PUSH', mode: ['-m', 'SYNC'] },
        { action: 'PULL', mode: ['-m', 'SYNC', '--chunk=16'] },
        { action: 'PUSH', mode: ['-m', 'COPY'] },
        { action: 'PULL', mode: ['-m', 'COPY'] },
      ] as const;
      for (const s of sizes) {
        for (const { action, mode } of runs) {
          test(`${s.name}: ${action} ${mode.slice(1).join(' ')}`, async () => {
            await transferAndCompare(dir.path, target, action, [...mode, '--buffer=64'], s.size, s.changes);
          });
        }
      }
      test('exactly one default block (2 MiB): PUSH SYNC', async () => {
        await transferAndCompare(dir.path, target, 'PUSH', ['-m', 'SYNC'], 2 * MiB, [2 * MiB - 1]);
      });
    });

    describe('24 MiB of random data with scattered changes', () => {
      const big = 24 * MiB;
      const odd = 24 * MiB + 12_345; // a multiple of neither --buffer nor --chunk
      test('PUSH SYNC, default buffer: only the differing blocks travel', async () => {
        const stat = await transferAndCompare(dir.path, target, 'PUSH', ['-m', 'SYNC'], big, [5 * MiB + 3, 13 * MiB, 23 * MiB + 100]);
        // Three 2 MiB blocks differ (raw random data), plus digests and framing.
        assert.ok(stat.tx >= 3 * 2 * MiB && stat.tx < 4 * 2 * MiB, `Tx ${stat.tx}`);
      });
      test('PULL SYNC --buffer=192 --chunk=20 on an odd size', async () => {
        const stat = await transferAndCompare(dir.path, target, 'PULL', ['-m', 'SYNC', '--buffer=192', '--chunk=20'], odd, scatteredOffsets(odd, 192 * KiB));
        assert.ok(stat.rx < odd / 4, `Rx ${stat.rx}: chunks should keep the traffic small`);
      });
      test('PUSH COPY on an odd size', async () => {
        await transferAndCompare(dir.path, target, 'PUSH', ['-m', 'COPY', '--buffer=1000'], odd, 'all');
      });
      test('PULL SYNC --hash=BLAKE2B on an odd size with every block changed', async () => {
        await transferAndCompare(dir.path, target, 'PULL', ['-m', 'SYNC', '--hash=BLAKE2B', '--buffer=512'], odd, 'all');
      });
    });
  });
}
