/**
 * Each --hash, spelled in any case, locally, through a local agent and over SSH: the
 * devices end up equal. Through an agent the --debug detail shows that both sides
 * really compared digests of the chosen function (the digest of the differing block
 * is checked against node:crypto, or hash-wasm for XXH128 and BLAKE3); when basyn opens both devices itself it compares
 * their bytes instead, and the detail says so.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { blake3, xxhash128 } from 'hash-wasm';
import { cmp, devicesFor, imagePair } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { allTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const BLOCK = 64 * 1024;
const SIZE = 5 * BLOCK + 999;
const CHANGED_BLOCK = 3;

const hashes = [
  { written: 'SHA1', node: 'sha1' },
  { written: 'sha224', node: 'sha224' },
  { written: 'Sha256', node: 'sha256' },
  { written: 'SHA384', node: 'sha384' },
  { written: 'sha512', node: 'sha512' },
  { written: 'BLAKE2B', node: 'blake2b512' },
  { written: 'blake2s', node: 'blake2s256' },
  { written: 'Md5', node: 'md5' },
  // The WebAssembly ones: sent to the agent as pieces only by the runs that use them.
  { written: 'xxh128', node: 'xxh128' },
  { written: 'Blake3', node: 'blake3' },
];

/** The hex digest of `data`, computed here: node:crypto, or hash-wasm for the WebAssembly ones. */
async function hexDigest(name: string, data: Buffer): Promise<string> {
  if (name === 'xxh128') return xxhash128(data);
  if (name === 'blake3') return blake3(data, 256);
  return createHash(name).update(data).digest('hex');
}

const targets = await allTargets();
const dir = tempDirForFile();
let n = 0;

for (const { target, skip } of targets) {
  describe(`over ${target.name}`, { skip }, () => {
    for (const h of hashes) {
      for (const action of ['PUSH', 'PULL'] as const) {
        const what = target.agent ? `compares ${h.node} digests` : 'compares the bytes';
        test(`${action} SYNC --hash=${h.written} ${what} and syncs`, async () => {
          n++;
          const p = await imagePair(dir.path, `h${n}`, SIZE, 40 + n, [CHANGED_BLOCK * BLOCK + 500]);
          const { local, remote } = devicesFor(action, p);
          const block = (data: Buffer): Promise<string> => hexDigest(h.node, data.subarray(CHANGED_BLOCK * BLOCK, (CHANGED_BLOCK + 1) * BLOCK));
          const sourceDigest = await block(await readFile(p.source));
          const destinationDigest = await block(await readFile(p.destination));

          const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', action, '-m', 'SYNC', `--hash=${h.written}`, '--buffer=64', '--debug'], { env: target.env });
          assert.equal(r.code, 0, describeRun(r));
          assert.ok(await cmp(p.source, p.destination), 'cmp: devices differ');
          // One block differs; how it was found is in its debug line.
          const differing = r.stderr.split('\n').filter((l) => / differs: /.test(l));
          assert.equal(differing.length, 1, `expected one differing block in ${JSON.stringify(r.stderr)}`);
          assert.ok(differing[0]!.includes(`at ${CHANGED_BLOCK * BLOCK}+${BLOCK}`), differing[0]);
          if (!target.agent) {
            assert.match(differing[0]!, / differs: compared byte for byte$/);
            return;
          }
          // The digests as both sides computed them.
          assert.ok(differing[0]!.includes(`source ${sourceDigest}`), `source digest is not ${h.node}: ${differing[0]}`);
          assert.ok(differing[0]!.includes(`destination ${destinationDigest}`), `destination digest is not ${h.node}: ${differing[0]}`);
        });
      }
    }
  });
}
