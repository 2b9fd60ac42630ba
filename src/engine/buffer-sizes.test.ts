/**
 * --buffer of 4, 64, 2048 and 8192 KiB (and 1 KiB with 64-byte digests), on devices
 * whose size is not a multiple of the buffer, locally and over SSH, with cmp after
 * every run.
 */
import { describe, test } from 'node:test';
import { bothTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { scatteredOffsets, transferAndCompare } from '../test-support/transfer.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const targets = await bothTargets();
const dir = tempDirForFile();

for (const { target, skip } of targets) {
  describe(`over ${target.name}`, { skip }, () => {
    for (const kib of [4, 64, 2048, 8192]) {
      const block = kib * KiB;
      // Two blocks and a bit, at least 1 MiB: never a multiple of the buffer.
      const size = Math.max(2 * block, MiB) + 4097;
      const chunk = Math.max(1, kib / 4);
      test(`--buffer=${kib}: PUSH SYNC`, async () => {
        await transferAndCompare(dir.path, target, 'PUSH', ['-m', 'SYNC', `--buffer=${kib}`], size, scatteredOffsets(size, block));
      });
      test(`--buffer=${kib}: PULL SYNC --chunk=${chunk}`, async () => {
        await transferAndCompare(dir.path, target, 'PULL', ['-m', 'SYNC', `--buffer=${kib}`, `--chunk=${chunk}`], size, scatteredOffsets(size, block));
      });
      test(`--buffer=${kib}: PUSH COPY`, async () => {
        await transferAndCompare(dir.path, target, 'PUSH', ['-m', 'COPY', `--buffer=${kib}`, '--zlevel=1'], size, 'all');
      });
    }

    describe('small buffers with long digests', () => {
      // 1024 digests of 64 bytes in one DIGESTS frame would overflow the 64 KiB frame limit.
      const size = 5 * MiB + 1;
      for (const hash of ['SHA512', 'BLAKE2B', 'SHA384']) {
        for (const action of ['PUSH', 'PULL'] as const) {
          test(`--buffer=4 --hash=${hash}: ${action} SYNC of 5 MiB`, async () => {
            await transferAndCompare(dir.path, target, action, ['-m', 'SYNC', '--buffer=4', `--hash=${hash}`], size, scatteredOffsets(size, 4 * KiB));
          });
        }
      }
      test('--buffer=1 --hash=SHA512: PUSH SYNC of 5 MiB', async () => {
        await transferAndCompare(dir.path, target, 'PUSH', ['-m', 'SYNC', '--buffer=1', '--hash=SHA512'], size, scatteredOffsets(size, 256 * KiB));
      });
    });
  });
}
