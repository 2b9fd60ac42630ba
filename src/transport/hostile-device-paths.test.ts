/**
 * Device paths that a shell would mangle or run: spaces, quotes, $(), backticks,
 * semicolons, a newline, a leading dash, non-ASCII. They work locally and over SSH
 * (where the remote shell parses the agent's command line) and never reach a shell:
 * the commands they hold never run. A host beginning with '-' is refused before ssh
 * starts (see also cli/bad-command-lines.test.ts).
 */
import assert from 'node:assert/strict';
import { access, mkdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sshdOrSkip, stopSshdAfterFile } from '../test-support/fault-fixtures.js';
import { cmp, scribble, writeImage } from '../test-support/images.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

stopSshdAfterFile();

let dir: { path: string; remove(): Promise<void> };
/** A file name no slash: a command in a path, if a shell ran it, creates it in that shell's folder. */
const MARK = `PWNED-${process.pid}`;
/** Where a shell would have run: basyn's folder (the test's folder) or the ssh user's home. */
const markers = (): string[] => [join(dir.path, MARK), join(homedir(), MARK), join(process.cwd(), MARK)];
async function assertNothingRan(): Promise<void> {
  for (const m of markers()) await assert.rejects(access(m), `a command inside the path ran (${m} exists)`);
}
before(async () => {
  dir = await makeTempDir('basyn-paths-');
});
after(async () => {
  for (const m of markers()) await rm(m, { force: true });
  await dir.remove();
});

const NAMES: [string, () => string][] = [
  ['spaces', () => 'my disk image.img'],
  ['single quotes', () => "it's a 'disk'.img"],
  ['double quotes', () => 'say "cheese".img'],
  ['$() command substitution', () => `$(touch ${MARK}).img`],
  ['backticks', () => `\`touch ${MARK}\`.img`],
  ['a semicolon and a pipe', () => `x; touch ${MARK} | cat.img`],
  ['a newline', () => `two\nlines.img`],
  ['a tab and a backslash', () => 'tab\there\\there.img'],
  ['a leading dash', () => '-rf --no-preserve-root.img'],
  ['glob and redirection characters', () => '*?[a] > out < in & bg.img'],
  ['non-ASCII', () => 'Dätenträger-диск-磁盘-💾.img'],
  ['a dollar variable', () => '$HOME ${PATH}.img'],
];

for (const [what, name] of NAMES) {
  for (const ssh of [false, true]) {
    test(`a device path with ${what} works ${ssh ? 'over SSH' : 'locally'} and never reaches a shell`, async (t) => {
      const sshd = ssh ? await sshdOrSkip(t) : undefined;
      if (ssh && sshd === undefined) return;
      const sub = join(dir.path, `${what.replace(/\W+/g, '-')}-${ssh}`);
      await mkdir(sub);
      const source = join(sub, `src ${name()}`);
      const destination = join(sub, name());
      await writeImage(source, 3 * 65536 + 17, 21);
      await writeImage(destination, 3 * 65536 + 17, 21);
      await scribble(destination, [70000, 150000], 99, 5);
      const hostArgs = sshd !== undefined ? ['-h', sshd.host, '-p', String(sshd.port)] : [];
      const r = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '--buffer', '64', '--recheck', ...hostArgs], { env: sshd?.env, timeoutMs: 30_000, cwd: dir.path });
      assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
      assert.ok(await cmp(source, destination), 'the devices differ');
      // And PULL back the other way, the odd path now local and remote swapped.
      await scribble(source, [0], 10, 6);
      const back = await runBasyn(['-l', source, '-r', destination, '-a', 'PULL', '-m', 'COPY', '--buffer', '64', ...hostArgs], { env: sshd?.env, timeoutMs: 30_000, cwd: dir.path });
      assert.equal(back.code, 0, `exit ${back.code}: ${back.stderr}`);
      assert.ok(await cmp(source, destination), 'the devices differ after PULL');
      await assertNothingRan();
    });
  }
}

test('a missing device whose path holds $() and a newline: the error names it on one line, nothing runs', async () => {
  const name = join(dir.path, `missing $(touch ${MARK})\nsecond line.img`);
  const good = join(dir.path, 'good.img');
  await writeImage(good, 65536, 1);
  const r = await runBasyn(['-l', good, '-r', name, '-a', 'PUSH', '-m', 'SYNC'], { timeoutMs: 30_000 });
  assert.equal(r.code, 2);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, JSON.stringify(r.stderr));
  assert.ok(lines[0]!.includes('missing $(touch'), lines[0]);
  assert.ok(lines[0]!.includes('\\nsecond line.img'), lines[0]);
  await assertNothingRan();
});
