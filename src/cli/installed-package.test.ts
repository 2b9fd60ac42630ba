/**
 * basyn installed as a package, the way a user installs it: `npm pack` gives a
 * tarball that `npm install -g` puts into a fresh prefix with nothing else (no
 * development dependency, no build); the installed `basyn` runs from any directory,
 * syncs over the test sshd, runs under node 24 too, and `man basyn` shows its page.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cmp, imagePair } from '../test-support/images.js';
import { nodeBinary } from '../test-support/node-versions.js';
import { REPO_ROOT } from '../test-support/paths.js';
import { runPlaces } from '../test-support/run-places.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const execFileAsync = promisify(execFile);

const [, ssh] = await runPlaces();
let dir: { path: string; remove(): Promise<void> };
let tarball: string;
let prefix: string;
/** Somewhere that is neither the checkout nor the prefix. */
let elsewhere: string;
let installed: string;

function withPath(env: NodeJS.ProcessEnv, ...first: string[]): NodeJS.ProcessEnv {
  return { ...env, PATH: [...first, env.PATH ?? ''].join(':') };
}

async function basyn(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('basyn', args, { env, cwd: elsewhere, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

before(async () => {
  dir = await makeTempDir('basyn-package-');
  prefix = join(dir.path, 'prefix');
  elsewhere = join(dir.path, 'elsewhere');
  await execFileAsync('mkdir', ['-p', elsewhere]);
  // dist/ was built by `npm test`; packing must not need to build again.
  const { stdout } = await execFileAsync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir.path], { cwd: REPO_ROOT });
  tarball = join(dir.path, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
  // Outside the checkout, and with no environment of npm's own run of this test.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  await execFileAsync('npm', ['install', '-g', tarball, '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: elsewhere, env, timeout: 300_000 });
  installed = join(prefix, 'lib', 'node_modules', 'basyn');
});
after(async () => {
  await dir?.remove();
});

test('the tarball carries the built command, the agent and the man page, and no sources or tests', async () => {
  const { stdout } = await execFileAsync('tar', ['tzf', tarball]);
  const files = stdout.split('\n').filter((f) => f !== '');
  for (const needed of ['package/bin/basyn.js', 'package/dist/src/cli/main.js', 'package/dist/agent.cjs.z', 'package/dist/pieces/xxh128.cjs.z', 'package/dist/pieces/blake3.cjs.z', 'package/man/basyn.1', 'package/README.md']) {
    assert.ok(files.includes(needed), `${needed} is not in the tarball`);
  }
  const unwanted = files.filter((f) => /\.test\.|\/test-support\/|^package\/src\/|^package\/bench\/|^package\/dist\/bench\//.test(f));
  assert.deepEqual(unwanted, []);
});

test('the installed package has its runtime dependencies only', async () => {
  const pkg = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const top = (await readdir(join(installed, 'node_modules')).catch(() => [] as string[])).filter((m) => !m.startsWith('.'));
  // A scoped package (@scope/name) is a folder of folders.
  const modules: string[] = [];
  for (const m of top) {
    if (m.startsWith('@')) modules.push(...(await readdir(join(installed, 'node_modules', m))).map((n) => `${m}/${n}`));
    else modules.push(m);
  }
  assert.deepEqual(modules.sort(), Object.keys(pkg.dependencies).sort());
});

test('its prepare script (for checkouts) does nothing in the installed package', async () => {
  const before = (await stat(join(installed, 'dist', 'agent.cjs.z'))).mtimeMs;
  const r = spawnSync('npm', ['run', 'prepare'], { cwd: installed, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await stat(join(installed, 'dist', 'agent.cjs.z'))).mtimeMs, before);
});

test('basyn is on the PATH of the prefix and runs from any directory', async () => {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await basyn(['--version'], withPath(process.env, join(prefix, 'bin')));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `basyn ${pkg.version} node ${process.version}\n`);
});

test('the installed basyn syncs over ssh', { skip: ssh!.skip ?? false }, async () => {
  const p = await imagePair(dir.path, 'installed', 3 * 1024 * 1024 + 5, 77, [0, 1_500_000, 3 * 1024 * 1024]);
  const r = await basyn(['-l', p.source, '-r', p.destination, ...ssh!.hostArgs, '-a', 'PUSH', '-m', 'SYNC', '--stat'], withPath(ssh!.env, join(prefix, 'bin')));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^STAT\. Device size:3145733B\./);
  assert.ok(await cmp(p.source, p.destination));
});

test('the installed basyn runs under node 24', async (t) => {
  const node24 = await nodeBinary(24);
  if (typeof node24 === 'string') return t.skip(node24);
  // `#!/usr/bin/env node` finds node 24 first.
  const env = withPath(ssh!.env, dirname(node24.path), join(prefix, 'bin'));
  const version = await basyn(['--version'], env);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, new RegExp(`^basyn \\S+ node ${node24.version.replaceAll('.', '\\.')}\\n$`));
  t.diagnostic(`installed basyn --version under node 24: ${version.stdout.trim()}`);
  const p = await imagePair(dir.path, 'installed24', 1024 * 1024 + 3, 78, 'all');
  const r = await basyn(['-l', p.source, '-r', p.destination, '-a', 'PUSH', '-m', 'COPY'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(await cmp(p.source, p.destination));
});

test('man basyn shows the installed man page', async (t) => {
  if (spawnSync('man', ['--version']).error !== undefined) {
    if (process.env.CI === 'true') assert.fail('man is not installed (.ci/run installs man-db)');
    return t.skip('man is not installed');
  }
  const r = spawnSync('man', ['basyn'], { cwd: elsewhere, encoding: 'utf8', env: { ...withPath(process.env, join(prefix, 'bin')), MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^BASYN\(1\)/);
  assert.match(r.stdout, /\n {7}-l PATH, --local=PATH\n/);
});
