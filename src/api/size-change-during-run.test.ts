/**
 * A device that changes size, or disappears, while a run is going on: the destination
 * cut short or extended, the source cut short or extended, the destination deleted
 * (and replaced by a new file). The result would be meaningless, or silently wrong,
 * so each run must end with exit 2 and one line saying which device changed.
 */
import assert from 'node:assert/strict';
import { appendFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { allocatedBytes, sparseImage, sshdOrSkip, stopSshdAfterFile, writeCompressibleImage } from '../test-support/fault-fixtures.js';
import { describeFinished, spawnBasyn, waitUntil } from '../test-support/process-tree.js';
import { makeTempDir } from '../test-support/temp-dir.js';

stopSshdAfterFile();

const MiB = 1024 * 1024;
const SIZE = 32 * MiB;
let dir: { path: string; remove(): Promise<void> };

before(async () => {
  dir = await makeTempDir('basyn-resize-');
});
after(async () => dir.remove());

interface Case {
  name: string;
  /** The change, made once the run is under way. */
  change: (source: string, destination: string) => Promise<void>;
  /** Which device the line must name. */
  names: 'source' | 'destination';
  message: RegExp;
  ssh?: boolean;
}

const CASES: Case[] = [
  {
    name: 'the destination cut to half its size',
    change: (_, d) => truncate(d, SIZE / 2),
    names: 'destination',
    message: /changed size during the run|shrank|smaller/,
  },
  {
    name: 'the destination cut to half its size (over SSH)',
    change: (_, d) => truncate(d, SIZE / 2),
    names: 'destination',
    message: /changed size during the run|shrank|smaller/,
    ssh: true,
  },
  {
    name: 'the destination extended by 1 MiB',
    change: (_, d) => appendFile(d, Buffer.alloc(MiB, 1)),
    names: 'destination',
    message: new RegExp(`changed size during the run, from ${SIZE} to ${SIZE + MiB} bytes`),
  },
  {
    name: 'the source cut to a quarter of its size',
    change: (s) => truncate(s, SIZE / 4),
    names: 'source',
    message: /unexpected end of data \(did the device shrink\?\)|changed size during the run/,
  },
  {
    name: 'the source extended by 1 MiB',
    change: (s) => appendFile(s, Buffer.alloc(MiB, 1)),
    names: 'source',
    message: new RegExp(`changed size during the run, from ${SIZE} to ${SIZE + MiB} bytes`),
  },
  {
    name: 'the destination deleted',
    change: (_, d) => rm(d),
    names: 'destination',
    message: /disappeared|no longer|ENOENT/,
  },
  {
    name: 'the destination deleted and replaced by another file of the same size',
    change: async (_, d) => {
      await writeFile(`${d}.new`, Buffer.alloc(0));
      await truncate(`${d}.new`, SIZE);
      await rename(`${d}.new`, d);
    },
    names: 'destination',
    message: /disappeared|replaced|no longer/,
  },
  {
    name: 'the destination deleted and replaced (over SSH)',
    change: async (_, d) => {
      await writeFile(`${d}.new`, Buffer.alloc(0));
      await truncate(`${d}.new`, SIZE);
      await rename(`${d}.new`, d);
    },
    names: 'destination',
    message: /disappeared|replaced|no longer/,
    ssh: true,
  },
];

for (const [i, c] of CASES.entries()) {
  test(`${c.name} during a PUSH COPY: exit 2 naming the ${c.names}`, async (t) => {
    const sshd = c.ssh === true ? await sshdOrSkip(t) : undefined;
    if (c.ssh === true && sshd === undefined) return;
    const source = join(dir.path, `source-${i}.img`);
    const destination = join(dir.path, `destination-${i}.img`);
    await writeCompressibleImage(source, SIZE, 23);
    await sparseImage(destination, SIZE);
    const args = ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'COPY', '--zlevel', '9'];
    if (sshd !== undefined) args.push('-h', sshd.host, '-p', String(sshd.port));
    const run = spawnBasyn(args, { env: sshd?.env });
    await waitUntil(async () => run.exited || (await allocatedBytes(destination).catch(() => 0)) >= 4 * MiB, 30_000, 'the run to be under way');
    assert.equal(run.exited, false, `the run ended before the change: ${run.stderr}`);
    await c.change(source, destination);
    const r = await run.done;
    assert.equal(r.code, 2, describeFinished(r));
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, JSON.stringify(r.stderr));
    t.diagnostic(lines[0]!);
    assert.ok(lines[0]!.includes(c.names === 'source' ? source : destination), `the line does not name the ${c.names}`);
    assert.match(lines[0]!, c.message);
    assert.doesNotMatch(r.stderr, /^ {4}at /m);
  });
}
