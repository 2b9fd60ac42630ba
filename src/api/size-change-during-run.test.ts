/**
 * A device that changes size, or disappears, while a run is going on: the destination
 * cut short or extended, the source cut short or extended, the destination deleted
 * (and replaced by a new file). The result would be meaningless, or silently wrong,
 * so each run must end with exit 2 and one line saying which device changed.
 *
 * Over SSH a COPY at --zlevel 9 takes seconds, and the change lands in it on its own.
 * Locally basyn opens both devices itself and copies about a GiB a second, faster
 * than any change from outside can be timed: so the run is stopped (SIGSTOP) as soon
 * as its first writes are seen, changed while it stands still, and continued.
 */
import assert from 'node:assert/strict';
import { appendFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { allocatedBytes, sparseImage, sshdOrSkip, stopSshdAfterFile, writeCompressibleImage } from '../test-support/fault-fixtures.js';
import { allocatedNow, describeFinished, spawnBasyn, spawnStoppedEarly, waitUntil, type Spawned } from '../test-support/process-tree.js';
import { makeTempDir } from '../test-support/temp-dir.js';

stopSshdAfterFile();

const MiB = 1024 * 1024;
/** Over SSH: a few seconds of COPY at --zlevel 9. */
const SSH_SIZE = 32 * MiB;
/**
 * Locally. The destination takes up to 32 MiB of writes ahead of the disk
 * (WRITE_WINDOW in local-device.ts), each checking the file's size as it starts. A run
 * stopped with at most 24 of its 64 MiB written has writes still to start after the
 * change (so it is not past its end-of-run size checks either), and the writes started
 * before it can grow a destination cut to half back to 56 MiB at most: the next write
 * sees it short.
 */
const LOCAL_SIZE = 64 * MiB;
const LATEST_STOP = LOCAL_SIZE - 32 * MiB - 8 * MiB;

let dir: { path: string; remove(): Promise<void> };

before(async () => {
  dir = await makeTempDir('basyn-resize-');
});
after(async () => dir.remove());

interface Case {
  name: string;
  /** The change, made once the run is under way; `size` is the size of both devices. */
  change: (source: string, destination: string, size: number) => Promise<void>;
  /** Which device the line must name. */
  names: 'source' | 'destination';
  message: (size: number) => RegExp;
  ssh?: boolean;
}

/** The path made to name a new file of `size` bytes, as a deleted-and-recreated image. */
async function replaceWithNewFile(path: string, size: number): Promise<void> {
  await writeFile(`${path}.new`, Buffer.alloc(0));
  await truncate(`${path}.new`, size);
  await rename(`${path}.new`, path);
}

const CASES: Case[] = [
  {
    name: 'the destination cut to half its size',
    change: (_, d, size) => truncate(d, size / 2),
    names: 'destination',
    message: () => /changed size during the run|shrank|smaller/,
  },
  {
    name: 'the destination cut to half its size (over SSH)',
    change: (_, d, size) => truncate(d, size / 2),
    names: 'destination',
    message: () => /changed size during the run|shrank|smaller/,
    ssh: true,
  },
  {
    name: 'the destination extended by 1 MiB',
    change: (_, d) => appendFile(d, Buffer.alloc(MiB, 1)),
    names: 'destination',
    message: (size) => new RegExp(`changed size during the run, from ${size} to ${size + MiB} bytes`),
  },
  {
    name: 'the source cut to a quarter of its size',
    change: (s, _, size) => truncate(s, size / 4),
    names: 'source',
    message: () => /unexpected end of data \(did the device shrink\?\)|changed size during the run/,
  },
  {
    name: 'the source extended by 1 MiB',
    change: (s) => appendFile(s, Buffer.alloc(MiB, 1)),
    names: 'source',
    message: (size) => new RegExp(`changed size during the run, from ${size} to ${size + MiB} bytes`),
  },
  {
    name: 'the destination deleted',
    change: (_, d) => rm(d),
    names: 'destination',
    message: () => /disappeared|no longer|ENOENT/,
  },
  {
    name: 'the destination deleted and replaced by another file of the same size',
    change: (_, d, size) => replaceWithNewFile(d, size),
    names: 'destination',
    message: () => /disappeared|replaced|no longer/,
  },
  {
    name: 'the destination deleted and replaced (over SSH)',
    change: (_, d, size) => replaceWithNewFile(d, size),
    names: 'destination',
    message: () => /disappeared|replaced|no longer/,
    ssh: true,
  },
];

for (const [i, c] of CASES.entries()) {
  test(`${c.name} during a PUSH COPY: exit 2 naming the ${c.names}`, async (t) => {
    const sshd = c.ssh === true ? await sshdOrSkip(t) : undefined;
    if (c.ssh === true && sshd === undefined) return;
    const size = c.ssh === true ? SSH_SIZE : LOCAL_SIZE;
    const source = join(dir.path, `source-${i}.img`);
    const destination = join(dir.path, `destination-${i}.img`);
    const args = ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'COPY', '--zlevel', '9'];
    let run: Spawned;
    if (sshd !== undefined) {
      await writeCompressibleImage(source, size, 23);
      await sparseImage(destination, size);
      run = spawnBasyn([...args, '-h', sshd.host, '-p', String(sshd.port)], { env: sshd.env });
      await waitUntil(async () => run.exited || (await allocatedBytes(destination).catch(() => 0)) >= 4 * MiB, 30_000, 'the run to be under way');
      assert.equal(run.exited, false, `the run ended before the change: ${run.stderr}`);
      await c.change(source, destination, size);
    } else {
      await writeCompressibleImage(source, size, 23);
      const stopped = await spawnStoppedEarly(args, {
        prepare: () => sparseImage(destination, size),
        progress: () => allocatedNow(destination),
        latest: LATEST_STOP,
        log: (line) => t.diagnostic(line),
      });
      run = stopped.run;
      t.diagnostic(`stopped with ${stopped.progress} of ${size} bytes written`);
      try {
        await c.change(source, destination, size);
      } finally {
        process.kill(run.pid, 'SIGCONT');
      }
    }
    const r = await run.done;
    assert.equal(r.code, 2, describeFinished(r));
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, JSON.stringify(r.stderr));
    t.diagnostic(lines[0]!);
    assert.ok(lines[0]!.includes(c.names === 'source' ? source : destination), `the line does not name the ${c.names}`);
    assert.match(lines[0]!, c.message(size));
    assert.doesNotMatch(r.stderr, /^ {4}at /m);
  });
}
