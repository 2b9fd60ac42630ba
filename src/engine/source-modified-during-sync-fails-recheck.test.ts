/**
 * A source that is being written while it is synced: the result can't be guaranteed,
 * and --recheck must say so (exit 2), never report success. A writer overwrites the
 * first block of the source in a loop for the whole run, so the block the recheck reads
 * is never the one the sync sent.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sshdOrSkip, stopSshdAfterFile } from '../test-support/fault-fixtures.js';
import { scribble, writeImage } from '../test-support/images.js';
import { describeFinished, spawnBasyn } from '../test-support/process-tree.js';
import { makeTempDir } from '../test-support/temp-dir.js';

stopSshdAfterFile();

const SIZE = 64 * 1024 * 1024;
let dir: { path: string; remove(): Promise<void> };
let original: string;

before(async () => {
  dir = await makeTempDir('basyn-busy-source-');
  original = join(dir.path, 'original.img');
  await writeImage(original, SIZE, 31);
});
after(async () => dir.remove());

/** Overwrites the first 4 KiB of `path` with fresh random bytes until `until` settles. */
async function keepWriting(path: string, until: Promise<unknown>): Promise<number> {
  let done = false;
  void until.then(() => (done = true), () => (done = true));
  const f = await open(path, 'r+');
  let writes = 0;
  try {
    while (!done) {
      await f.write(randomBytes(4096), 0, 4096, 0);
      writes++;
      await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    await f.close();
  }
  return writes;
}

const CASES = [
  { name: 'PUSH SYNC --recheck', action: 'PUSH', extra: [] as string[], ssh: false },
  { name: 'PUSH SYNC --recheck over SSH', action: 'PUSH', extra: [], ssh: true },
  { name: 'PULL SYNC --recheck over SSH (the remote source is written)', action: 'PULL', extra: [], ssh: true },
  { name: 'PUSH SYNC --chunk --recheck', action: 'PUSH', extra: ['--buffer', '1024', '--chunk', '64'], ssh: false },
  { name: 'PUSH bitmap SYNC --recheck', action: 'PUSH', extra: ['-b', 'BITMAP'], ssh: false },
  { name: 'PUSH COPY --recheck', action: 'PUSH', extra: ['-m', 'COPY'], ssh: false },
] as const;

for (const [i, c] of CASES.entries()) {
  test(`a source written during ${c.name}: exit 2, the recheck names the first differing offset`, async (t) => {
    const sshd = c.ssh ? await sshdOrSkip(t) : undefined;
    if (c.ssh && sshd === undefined) return;
    const source = join(dir.path, `source-${i}.img`);
    const destination = join(dir.path, `destination-${i}.img`);
    await copyFile(original, source);
    await copyFile(original, destination);
    await scribble(destination, [5 * 1024 * 1024, 40 * 1024 * 1024], 100, 3);
    const [local, remote] = c.action === 'PUSH' ? [source, destination] : [destination, source];
    const extra = c.extra.map((a) => (a === 'BITMAP' ? join(dir.path, `bitmap-${i}`) : a));
    const mode = extra.includes('-m') ? [] : ['-m', 'SYNC'];
    const args = ['-l', local, '-r', remote, '-a', c.action, ...mode, ...extra, '--recheck'];
    if (sshd !== undefined) args.push('-h', sshd.host, '-p', String(sshd.port));
    const run = spawnBasyn(args, { env: sshd?.env });
    const writes = await keepWriting(source, run.done);
    const r = await run.done;
    t.diagnostic(`${writes} writes to the source's first block during the run`);
    assert.equal(r.code, 2, `${describeFinished(r)} (the source was written ${writes} times)`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, JSON.stringify(r.stderr));
    t.diagnostic(lines[0]!);
    assert.match(lines[0]!, /^basyn: recheck failed: \d+ of \d+ blocks differ, the first at offset 0$/);
  });
}
