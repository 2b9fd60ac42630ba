/**
 * Nothing from the command line reaches a shell: a host beginning with "-" is
 * refused before ssh is started, and device paths with spaces, quotes, $(),
 * backticks, shell operators and non-ASCII work, locally and over SSH, without
 * anything in them being run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { cmp, devicesFor, scribble, seededImage, sha256File } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { bothTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const SIZE = 512 * 1024 + 3;
const tag = randomBytes(4).toString('hex');
const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

const targets = await bothTargets();
const dir = tempDirForFile();

describe('a host beginning with "-" is refused and nothing runs', () => {
  const marker = (): string => join(dir.path, `ssh-ran-${tag}`);
  const proxy = (): string => `-oProxyCommand=touch ${join(dir.path, `proxy-ran-${tag}`)}`;
  const spellings: { name: string; args: () => string[] }[] = [
    { name: '-h VALUE', args: () => ['-h', proxy()] },
    { name: '-hVALUE', args: () => [`-h${proxy()}`] },
    { name: '--host=VALUE', args: () => [`--host=${proxy()}`] },
    { name: '--host VALUE', args: () => ['--host', proxy()] },
    { name: 'a lone dash', args: () => ['--host=-'] },
  ];
  for (const s of spellings) {
    test(s.name, async () => {
      const a = join(dir.path, `host-a-${s.name.replace(/\W/g, '')}.img`);
      const b = join(dir.path, `host-b-${s.name.replace(/\W/g, '')}.img`);
      await writeFile(a, seededImage(SIZE, 1));
      await writeFile(b, seededImage(SIZE, 2));
      const [ha, hb] = [await sha256File(a), await sha256File(b)];
      // An ssh first on PATH that leaves a mark: it must never be started.
      const bin = join(dir.path, 'fake-bin');
      await mkdir(bin, { recursive: true });
      await writeFile(join(bin, 'ssh'), `#!/bin/sh\ntouch '${marker()}'\nexit 255\n`);
      await chmod(join(bin, 'ssh'), 0o755);
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };

      const r = await runBasyn(['-l', a, '-r', b, ...s.args(), '-a', 'PUSH', '-m', 'COPY'], { env, cwd: dir.path });
      assert.equal(r.code, 1, describeRun(r));
      assert.match(r.stderr, /host/);
      assert.match(r.stderr, /--help/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.equal(await exists(marker()), false, 'ssh was started');
      assert.equal(await exists(join(dir.path, `proxy-ran-${tag}`)), false, 'the ProxyCommand ran');
      assert.equal(await sha256File(a), ha);
      assert.equal(await sha256File(b), hb);
    });
  }
});

/** Names that would run something or split into words if they ever met a shell. */
const names = [
  'with space.img',
  `it's "quoted".img`,
  `$(touch pwned-dollar-${tag}).img`,
  `\`touch pwned-backtick-${tag}\`.img`,
  `semi;touch pwned-semi-${tag}|cat&x>y<z.img`,
  'ünïcødé-雪-🙂.img',
  `back\\slash \${HOME} *glob? [x].img`,
];

async function noMarkers(): Promise<void> {
  for (const where of [dir.path, homedir()]) {
    for (const kind of ['dollar', 'backtick', 'semi']) {
      assert.equal(await exists(join(where, `pwned-${kind}-${tag}`)), false, `a shell ran a command from a path (in ${where})`);
    }
  }
}

let k = 0;
for (const { target, skip } of targets) {
  describe(`device paths that mean something to a shell work over ${target.name}`, { skip }, () => {
    for (const name of names) {
      for (const action of ['PUSH', 'PULL'] as const) {
        test(`${action} SYNC with ${JSON.stringify(name)}`, async () => {
          k++;
          const folder = join(dir.path, `${k} ${name.replace(/\.img$/, '')}`); // the folder name is hostile too
          await mkdir(folder);
          const source = join(folder, `src ${name}`);
          const destination = join(folder, name);
          await writeFile(source, seededImage(SIZE, k));
          await writeFile(destination, seededImage(SIZE, k));
          await scribble(destination, [1000, SIZE - 10], 5, k);
          const { local, remote } = devicesFor(action, { source, destination });
          const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', action, '-m', 'SYNC', '--buffer=64'], { env: target.env, cwd: dir.path });
          assert.equal(r.code, 0, describeRun(r));
          assert.ok(await cmp(source, destination), 'cmp: devices differ');
          await noMarkers();
        });
      }
    }

    test('a missing device with a hostile name is reported by that name, exit 2', async () => {
      const missing = join(dir.path, `missing $(touch pwned-dollar-${tag}) 'x' é.img`);
      const present = join(dir.path, `present-${target.name}.img`);
      await writeFile(present, seededImage(SIZE, 9));
      const r = await runBasyn(['-l', present, '-r', missing, ...target.args, '-a', 'PUSH', '-m', 'SYNC'], { env: target.env, cwd: dir.path });
      assert.equal(r.code, 2, describeRun(r));
      assert.ok(r.stderr.includes(missing), `the path is not named as given: ${r.stderr}`);
      assert.equal(await exists(missing), false);
      await noMarkers();
    });
  });
}
