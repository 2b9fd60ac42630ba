/**
 * A bitmap, or its lock file, that is a FIFO, a directory, a socket or a device is
 * refused at once in every mode (plain, bitmap-only, --reset-bitmap, --update-bitmap,
 * --dry-run): exit 2 with one line saying what the file is, never a hang in open()
 * (opening a FIFO waits for a writer), and the file and the destination untouched.
 * Each run is killed after 20 s, so a hang fails the test instead of the suite.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { errorLines } from '../test-support/bitmap-files.js';
import { seededBytes, sha256File, writeImage } from '../test-support/images.js';
import { attachLoop, type LoopDevice } from '../test-support/loop-device.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { LOCAL_AGENT_PLACE } from '../test-support/run-places.js';
import { skipOrFail } from '../test-support/fault-fixtures.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const execFileAsync = promisify(execFile);
const SIZE = 1024 * 1024;
const HANG_LIMIT_MS = 20_000;

let dir: { path: string; remove(): Promise<void> };
let src: string;
let dst: string;
let server: Server;
let loop: LoopDevice | string;
let loopImage: string;

before(async () => {
  dir = await makeTempDir('basyn-bitmap-kind-');
  src = join(dir.path, 'source.img');
  dst = join(dir.path, 'destination.img');
  await writeImage(src, SIZE, 61);
  await writeImage(dst, SIZE, 62);
  await execFileAsync('mkfifo', [join(dir.path, 'fifo')]);
  await mkdir(join(dir.path, 'directory'));
  server = createServer();
  await new Promise<void>((resolve) => server.listen(join(dir.path, 'socket'), resolve));
  loopImage = join(dir.path, 'loop.img');
  await writeFile(loopImage, seededBytes(SIZE, 63));
  loop = await attachLoop(loopImage);
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  if (typeof loop !== 'string') await loop.detach();
  await dir.remove();
});

interface Kind {
  name: string;
  path: () => string;
  says: RegExp;
  /** What must still hold of the file afterwards. */
  still: (path: string) => Promise<boolean>;
  needs?: () => string | undefined;
}

const KINDS: Kind[] = [
  { name: 'a FIFO', path: () => join(dir.path, 'fifo'), says: /is a FIFO, not a regular file/, still: async (p) => (await lstat(p)).isFIFO() },
  { name: 'a directory', path: () => join(dir.path, 'directory'), says: /is a directory, not a regular file/, still: async (p) => (await lstat(p)).isDirectory() },
  { name: 'a socket', path: () => join(dir.path, 'socket'), says: /is a socket, not a regular file/, still: async (p) => (await lstat(p)).isSocket() },
  { name: '/dev/null', path: () => '/dev/null', says: /is a character device, not a regular file/, still: async (p) => (await lstat(p)).isCharacterDevice() },
  {
    name: 'a loop device',
    path: () => (loop as LoopDevice).path,
    says: /is a block device, not a regular file/,
    still: async (p) => (await lstat(p)).isBlockDevice() && seededBytes(SIZE, 63).equals(await readFile(loopImage)),
    needs: () => (typeof loop === 'string' ? loop : undefined),
  },
];

const MODES: { name: string; args: (bitmap: string) => string[] }[] = [
  { name: 'a PUSH SYNC', args: (b) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', b] },
  { name: 'a bitmap-only run', args: (b) => ['-l', src, '-a', 'PUSH', '-m', 'SYNC', '-b', b] },
  { name: '--reset-bitmap', args: (b) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', b, '--reset-bitmap'] },
  { name: '--update-bitmap', args: (b) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', b, '--update-bitmap'] },
  { name: '--dry-run', args: (b) => ['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', b, '--dry-run'] },
  { name: 'a PULL through a local agent', args: (b) => ['-l', dst, '-r', src, '-a', 'PULL', '-m', 'SYNC', '-b', b, ...LOCAL_AGENT_PLACE.hostArgs] },
];

describe('a bitmap that is not a regular file', { concurrency: 3, timeout: 600_000 }, () => {
  for (const kind of KINDS) {
    for (const mode of MODES) {
      it(`${kind.name} as the bitmap of ${mode.name}: refused at once (exit 2, one line), nothing touched`, async (t) => {
        const why = kind.needs?.();
        if (why !== undefined) return skipOrFail(t, why);
        const path = kind.path();
        const dstBefore = await sha256File(dst);
        const run = await runBasyn(mode.args(path), { timeoutMs: HANG_LIMIT_MS });
        assert.notEqual(run.signal, 'SIGKILL', `basyn hung and was killed after ${HANG_LIMIT_MS} ms: ${describeRun(run)}`);
        assert.equal(run.code, 2, describeRun(run));
        const lines = errorLines(run.stderr);
        assert.equal(lines.length, 1, run.stderr);
        assert.ok(lines[0]!.includes(path), 'names the path');
        assert.match(lines[0]!, kind.says);
        assert.ok(await kind.still(path), `${path} changed`);
        assert.equal(await sha256File(dst), dstBefore, 'the destination is untouched');
        assert.equal(existsSync(`${path}.lock`), false, 'no lock file left');
      });
    }
  }
});

describe('a bitmap lock file that is not a regular file', { concurrency: 3, timeout: 300_000 }, () => {
  for (const kind of ['a FIFO', 'a directory', 'a socket'] as const) {
    it(`${kind} where FILE.lock goes: refused at once (exit 2, one line), kept, the bitmap not created`, async () => {
      const sub = join(dir.path, `lock-${kind.replaceAll(' ', '-')}`);
      await mkdir(sub);
      const bitmap = join(sub, 'x.bitmap');
      const lock = `${bitmap}.lock`;
      let lockServer: Server | undefined;
      if (kind === 'a FIFO') await execFileAsync('mkfifo', [lock]);
      if (kind === 'a directory') await mkdir(lock);
      if (kind === 'a socket') {
        lockServer = createServer();
        await new Promise<void>((resolve) => lockServer!.listen(lock, resolve));
      }
      try {
        const dstBefore = await sha256File(dst);
        const run = await runBasyn(['-l', src, '-r', dst, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap], { timeoutMs: HANG_LIMIT_MS });
        assert.notEqual(run.signal, 'SIGKILL', `basyn hung and was killed after ${HANG_LIMIT_MS} ms: ${describeRun(run)}`);
        assert.equal(run.code, 2, describeRun(run));
        const lines = errorLines(run.stderr);
        assert.equal(lines.length, 1, run.stderr);
        assert.ok(lines[0]!.includes(lock), 'names the lock file');
        assert.match(lines[0]!, new RegExp(`is not a basyn lock file \\(it is ${kind}\\)`));
        assert.doesNotMatch(lines[0]!, /delete|remove/i);
        assert.ok(existsSync(lock), 'the file is kept');
        assert.equal(existsSync(bitmap), false);
        assert.equal(await sha256File(dst), dstBefore);
      } finally {
        if (lockServer !== undefined) await new Promise((resolve) => lockServer!.close(resolve));
      }
    });
  }
});
