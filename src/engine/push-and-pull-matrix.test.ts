/**
 * End to end through bin/basyn.js: {PUSH, PULL} x {COPY, SYNC, SYNC --chunk} x
 * {local, SSH}, on image files whose size is a multiple of neither the buffer nor
 * the chunk. After every run both devices are compared with the system's cmp.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cmp, devicesFor, imagePair, sha256File, type ImagePair } from '../test-support/images.js';
import { describeRun, parseStat, runBasyn } from '../test-support/run-basyn.js';
import { bothTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const BLOCK = 2048 * 1024; // the default --buffer
const SIZE = 4 * BLOCK + 12345; // 5 blocks, the last one short; not a multiple of 64 KiB either
const CHANGED_BLOCKS = [0, 2];

const modes = [
  { name: 'COPY', args: ['-m', 'COPY'] },
  { name: 'SYNC', args: ['-m', 'SYNC'] },
  { name: 'SYNC --chunk=64', args: ['-m', 'sync', '--chunk=64'] },
] as const;

const targets = await bothTargets();
const dir = tempDirForFile();
let n = 0;

/** A source image and a destination that differs from it in a few places (or entirely for COPY). */
async function pair(mode: string): Promise<ImagePair> {
  n++;
  // 100 bytes changed in blocks 0 and 2, plus the last byte (in the short last block).
  const changes = mode === 'COPY' ? 'all' : [...CHANGED_BLOCKS.map((b) => b * BLOCK + 70_000), SIZE - 1];
  const p = await imagePair(dir.path, `m${n}`, SIZE, 1000 + n, changes);
  assert.equal(await cmp(p.source, p.destination), false, 'the test images must differ before the run');
  return p;
}

for (const { target, skip } of targets) {
  describe(`over ${target.name}`, { skip }, () => {
    for (const action of ['PUSH', 'PULL'] as const) {
      for (const mode of modes) {
        test(`${action} ${mode.name} makes the destination equal to the source`, async () => {
          const p = await pair(mode.name);
          const { source, destination } = p;
          const { local, remote } = devicesFor(action, p);
          const sourceHash = await sha256File(source);
          const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', action.toLowerCase(), ...mode.args, '--stat'], { env: target.env });
          assert.equal(r.code, 0, describeRun(r));
          assert.ok(await cmp(source, destination), `cmp: the devices differ after ${action} ${mode.name}`);
          assert.equal(await sha256File(source), sourceHash, 'the source must not change');

          const stat = parseStat(r.stdout);
          assert.ok(stat !== undefined, `no STAT line in ${JSON.stringify(r.stdout)}`);
          assert.equal(stat.size, SIZE);
          // The data moves towards the agent for PUSH (Tx) and from it for PULL (Rx).
          const sent = action === 'PUSH' ? stat.tx : stat.rx;
          if (mode.name === 'COPY') {
            assert.ok(sent >= SIZE, `COPY of incompressible data sent only ${sent} bytes`);
          } else if (mode.name === 'SYNC') {
            // Blocks 0, 2 and the short last one differ: about 2 blocks + 12345 bytes.
            assert.ok(sent >= 2 * BLOCK, `SYNC sent ${sent} bytes, less than the 2 differing blocks`);
            assert.ok(sent < 2.5 * BLOCK, `SYNC sent ${sent} bytes: more than the differing blocks`);
          } else {
            // Only three 64 KiB chunks differ.
            assert.ok(sent < 4 * 64 * 1024, `SYNC --chunk=64 sent ${sent} bytes: more than the differing chunks`);
          }
        });
      }
    }
  });
}
