/**
 * A destination that runs out of space (ENOSPC), end to end: a sparse 16 MiB image on
 * an 8 MiB tmpfs fills up half way. basyn must exit 2 with one line naming the device,
 * the operation (write) and an offset; locally (written by basyn itself, or served by
 * a local agent asked for with --remote-node) and over SSH. Mounting needs root: the
 * test skips visibly without it, and fails instead in CI.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { mountSmallTmpfs, skipOrFail, sparseImage, sshdOrSkip, stopSshdAfterFile, type SmallTmpfs } from '../test-support/fault-fixtures.js';
import { writeImage } from '../test-support/images.js';
import { describeFinished, spawnBasyn } from '../test-support/process-tree.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';

stopSshdAfterFile();

const MiB = 1024 * 1024;
let dir: { path: string; remove(): Promise<void> };
let fs: SmallTmpfs | string;
let source: string;

before(async () => {
  dir = await makeTempDir('basyn-enospc-');
  source = join(dir.path, 'source.img');
  await writeImage(source, 16 * MiB, 8);
  fs = process.getuid?.() === 0 ? await mountSmallTmpfs(dir.path, 8 * MiB) : 'mounting a tmpfs needs root';
});
after(async () => {
  if (typeof fs !== 'string') await fs.unmount();
  await dir.remove();
});

const CASES = [
  { name: 'PUSH COPY to a full destination (in-process)', action: 'PUSH', mode: 'COPY', ssh: false, side: 'remote' },
  { name: 'PUSH COPY to a full destination (local agent)', action: 'PUSH', mode: 'COPY', ssh: false, side: 'remote', agent: true },
  { name: 'PUSH SYNC to a full destination (local agent)', action: 'PUSH', mode: 'SYNC', ssh: false, side: 'remote', agent: true },
  { name: 'PULL COPY into a full local destination', action: 'PULL', mode: 'COPY', ssh: false, side: 'local' },
  { name: 'PUSH COPY to a full destination over SSH', action: 'PUSH', mode: 'COPY', ssh: true, side: 'remote' },
  { name: 'PUSH SYNC with --chunk to a full destination over SSH', action: 'PUSH', mode: 'SYNC', ssh: true, side: 'remote', extra: ['--buffer', '1024', '--chunk', '256'] },
  { name: 'PULL SYNC into a full local destination from SSH', action: 'PULL', mode: 'SYNC', ssh: true, side: 'local' },
] as const;

for (const c of CASES) {
  test(`${c.name}: exit 2 naming the device, write and the offset`, async (t) => {
    if (typeof fs === 'string') return skipOrFail(t, fs);
    const sshd = c.ssh ? await sshdOrSkip(t) : undefined;
    if (c.ssh && sshd === undefined) return;
    const full = join(fs.path, 'destination.img');
    await sparseImage(full, 16 * MiB);
    try {
      const [local, remote] = c.action === 'PUSH' ? [source, full] : [full, source];
      const args = ['-l', local, '-r', remote, '-a', c.action, '-m', c.mode, '--zlevel', '1', ...('extra' in c ? c.extra : [])];
      if (sshd !== undefined) args.push('-h', sshd.host, '-p', String(sshd.port));
      if ('agent' in c) args.push(...LOCAL_AGENT.args);
      const r = await spawnBasyn(args, { env: sshd?.env, timeoutMs: 60_000 }).timeExit();
      assert.equal(r.code, 2, describeFinished(r));
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, JSON.stringify(r.stderr));
      const line = lines[0]!;
      t.diagnostic(line);
      assert.match(line, /ENOSPC/);
      assert.ok(line.includes(`${c.side} device ${full}`), `the line does not name the ${c.side} device ${full}`);
      // The offset is that of a write that found the file system full: inside the image,
      // and for a COPY whose blocks arrive one after the other from an agent past the
      // first MiBs. (A SYNC with --chunk writes chunks in the order their blocks' chunk
      // digests come back; in-process, where nothing arrives, a COPY's writes run several
      // at once (the write window) and any of them may be the first to find it full.)
      const m = /\bwrite at offset (\d+)\b/.exec(line);
      assert.ok(m !== null, `no "write at offset N" in: ${line}`);
      const offset = Number(m[1]);
      const inProcess = !c.ssh && !('agent' in c);
      const lowest = c.mode === 'COPY' && !inProcess ? 4 * MiB : 0;
      assert.ok(offset >= lowest && offset < 16 * MiB, `offset ${offset}`);
      if (c.ssh && c.side === 'remote') assert.match(line, /on host 127\.0\.0\.1/);
      assert.doesNotMatch(r.stderr, /^ {4}at /m);
    } finally {
      await rm(full, { force: true });
    }
  });
}
