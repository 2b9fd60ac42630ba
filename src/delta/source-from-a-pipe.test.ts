/**
 * -l - with --size: the source read from standard input, through the real command fed
 * by `cat img |`: COPY, SYNC against the destination (here and over ssh) and against a
 * bitmap; a pipe shorter or longer than --size fails (exit 2) naming both sizes and
 * writes nothing past the device; what would read it twice is a usage error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cmp, scribble, writeImage } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { describeRun, runBasyn, type BasynRun } from '../test-support/run-basyn.js';
import { sharedSshd, type SshdFixture } from '../test-support/sshd.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const SIZE = 3 * 1024 * 1024 + 1234;
const dir = tempDirForFile('basyn-pipe-');
let sshd: SshdFixture | string = 'not started';
before(async () => {
  sshd = await sharedSshd();
});
after(async () => {
  if (typeof sshd !== 'string') await sshd.stop();
});

/** `cat FILE... | basyn ARGS` through a shell, as a user types it. */
function piped(files: string[], args: string[], env: NodeJS.ProcessEnv = process.env): Promise<BasynRun> {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const line = `cat ${files.map(q).join(' ')} | ${q(process.execPath)} ${q(BASYN_BIN)} ${args.map(q).join(' ')}`;
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let n = 0;
async function images(): Promise<{ img: string; dst: string }> {
  const img = join(dir.path, `img${n}`);
  const dst = join(dir.path, `dst${n}`);
  n++;
  await writeImage(img, SIZE, n);
  await copyFile(img, dst);
  await scribble(dst, [0, 1_000_000, SIZE - 100], 50, n + 50);
  return { img, dst };
}

describe('a source from a pipe', () => {
  for (const mode of ['COPY', 'SYNC']) {
    it(`${mode} from cat img |`, async () => {
      const { img, dst } = await images();
      const r = await piped([img], ['-l', '-', '--size', String(SIZE), '-r', dst, '-a', 'PUSH', '-m', mode, '--buffer', '64', '--stat']);
      assert.equal(r.code, 0, describeRun(r));
      assert.equal(await cmp(img, dst), true);
    });
  }

  it('SYNC over ssh from cat img |', async (t) => {
    if (typeof sshd === 'string') return t.skip(`no sshd: ${sshd}`);
    const { img, dst } = await images();
    const r = await piped([img], ['-l', '-', '--size', String(SIZE), '-r', dst, '-h', sshd.host, '-p', String(sshd.port), '-a', 'PUSH', '-m', 'SYNC', '--json'], sshd.env);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(JSON.parse(r.stdout).blocks.differing, 2);
    assert.equal(await cmp(img, dst), true);
  });

  it('bitmap SYNC and a delta from cat img |', async () => {
    const { img, dst } = await images();
    const bitmap = join(dir.path, 'pipe.bitmap');
    const base = ['-l', '-', '--size', String(SIZE), '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '-b', bitmap];
    let r = await piped([img], [...base, '-r', dst]);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await cmp(img, dst), true);
    await scribble(img, [2_000_000], 10, 99);
    const delta = join(dir.path, 'pipe.delta');
    r = await piped([img], [...base, '--write-delta', delta]);
    assert.equal(r.code, 0, describeRun(r));
    r = await runBasyn(['--apply-delta', delta, '-l', dst]);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(await cmp(img, dst), true);
  });

  for (const [what, extra, message] of [
    ['shorter', -1000, new RegExp(`ended after ${SIZE - 1000} bytes, but --size is ${SIZE} bytes`)],
    ['longer', 1, new RegExp(`holds more than --size \\(${SIZE} bytes\\)`)],
  ] as const) {
    it(`a pipe ${what} than --size: exit 2 naming both sizes, nothing past the device`, async () => {
      const { img, dst } = await images();
      const feed = join(dir.path, `feed.${what}`);
      if (extra < 0) {
        await copyFile(img, feed);
        await import('node:fs/promises').then((fs) => fs.truncate(feed, SIZE + extra));
      } else {
        await writeImage(feed, SIZE + extra, 5);
      }
      const r = await piped([feed], ['-l', '-', '--size', String(SIZE), '-r', dst, '-a', 'PUSH', '-m', 'SYNC']);
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, message);
      assert.equal((await stat(dst)).size, SIZE, 'the destination did not grow');
    });
  }
});

describe('what would read a pipe twice is a usage error (exit 1)', () => {
  const cases: [string, string[], RegExp][] = [
    ['-l - without --size', ['-l', '-', '-r', 'y', '-a', 'PUSH', '-m', 'SYNC'], /needs --size/],
    ['--size without -l -', ['-l', 'x', '-r', 'y', '-a', 'PUSH', '-m', 'SYNC', '--size', '10'], /--size is for a source on standard input/],
    ['PULL', ['-l', '-', '--size', '10', '-r', 'y', '-a', 'PULL', '-m', 'SYNC'], /needs -a\/--action PUSH/],
    ['--chunk', ['-l', '-', '--size', '10', '-r', 'y', '-a', 'PUSH', '-m', 'SYNC', '--chunk', '4'], /is read once/],
    ['--recheck', ['-l', '-', '--size', '10', '-r', 'y', '-a', 'PUSH', '-m', 'SYNC', '--recheck'], /is read once/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await runBasyn(args);
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, message);
    });
  }
});
