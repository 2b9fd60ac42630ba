/**
 * --apply-delta reads a file: one that is a FIFO, a directory, a socket or a character
 * device is refused at once (issue 14 item 6: a FIFO used to block open() until a
 * writer came, and no signal ended it), with exit 2 and one line saying what it is;
 * the destination keeps every byte. Each run is killed after 20 s, so a hang fails
 * the test instead of the suite.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { sha256File, writeImage } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const HANG_LIMIT_MS = 20_000;

let dir: { path: string; remove(): Promise<void> };
let dst: string;
let server: Server;

before(async () => {
  dir = await makeTempDir('basyn-apply-kind-');
  dst = join(dir.path, 'destination.img');
  await writeImage(dst, 256 * 1024, 5);
  await promisify(execFile)('mkfifo', [join(dir.path, 'fifo')]);
  await mkdir(join(dir.path, 'directory'));
  server = createServer();
  await new Promise<void>((resolve) => server.listen(join(dir.path, 'socket'), resolve));
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await dir.remove();
});

describe('--apply-delta of something that is not a regular file', { concurrency: 4, timeout: 120_000 }, () => {
  const kinds: { name: string; path: () => string; says: string }[] = [
    { name: 'a FIFO', path: () => join(dir.path, 'fifo'), says: 'a FIFO' },
    { name: 'a directory', path: () => join(dir.path, 'directory'), says: 'a directory' },
    { name: 'a socket', path: () => join(dir.path, 'socket'), says: 'a socket' },
    { name: 'a character device', path: () => '/dev/zero', says: 'a character device' },
  ];
  for (const kind of kinds) {
    it(`${kind.name}: exit 2 at once, one line naming what it is, the destination untouched`, async () => {
      const before = await sha256File(dst);
      const run = await runBasyn([`--apply-delta=${kind.path()}`, '-l', dst], { timeoutMs: HANG_LIMIT_MS });
      assert.equal(run.code, 2, describeRun(run));
      const lines = run.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, run.stderr);
      assert.ok(lines[0]!.includes(`is ${kind.says}, not a regular file`), lines[0]);
      assert.equal(await sha256File(dst), before);
    });
  }
});
