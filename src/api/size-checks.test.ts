/**
 * Runs that must stop before writing: a destination smaller than the source, a
 * zero-size device, a missing device, a directory. Exit 2, one clear line, and the
 * destination unchanged (a missing one is not created).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededImage, sha256File } from '../test-support/images.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { bothTargets } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';

const SIZE = 256 * 1024 + 10;

const targets = await bothTargets();
const dir = tempDirForFile();
let n = 0;

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** A device file of `size` bytes (or nothing, or a directory) in the test folder. */
async function device(kind: number | 'missing' | 'directory', seed: number): Promise<string> {
  const path = join(dir.path, `d${++n}.img`);
  if (kind === 'directory') await mkdir(path);
  else if (kind !== 'missing') await writeFile(path, seededImage(kind, seed));
  return path;
}

async function fingerprint(path: string): Promise<string> {
  if (!(await exists(path))) return 'missing';
  const s = await stat(path);
  return s.isDirectory() ? 'directory' : `${s.size}:${s.mtimeMs}:${await sha256File(path)}`;
}

const cases: { name: string; local: number | 'missing' | 'directory'; remote: number | 'missing' | 'directory'; action?: 'PUSH' | 'PULL'; says: RegExp }[] = [
  { name: 'PUSH to a smaller remote', local: SIZE, remote: SIZE - 1, action: 'PUSH', says: /smaller/ },
  { name: 'PULL to a smaller local', local: SIZE - 1, remote: SIZE, action: 'PULL', says: /smaller/ },
  { name: 'PUSH from a zero-size local', local: 0, remote: SIZE, action: 'PUSH', says: /empty|0 bytes/ },
  { name: 'PUSH to a zero-size remote', local: SIZE, remote: 0, action: 'PUSH', says: /empty|0 bytes|smaller/ },
  { name: 'PULL from a zero-size remote', local: SIZE, remote: 0, action: 'PULL', says: /empty|0 bytes/ },
  { name: 'PULL to a zero-size local', local: 0, remote: SIZE, action: 'PULL', says: /empty|0 bytes|smaller/ },
  { name: 'zero-size devices without an action', local: 0, remote: 0, says: /empty|0 bytes/ },
  { name: 'PUSH to a missing remote', local: SIZE, remote: 'missing', action: 'PUSH', says: /ENOENT|no such file/i },
  { name: 'PUSH from a missing local', local: 'missing', remote: SIZE, action: 'PUSH', says: /ENOENT|no such file/i },
  { name: 'PULL to a missing local', local: 'missing', remote: SIZE, action: 'PULL', says: /ENOENT|no such file/i },
  { name: 'PULL from a missing remote', local: SIZE, remote: 'missing', action: 'PULL', says: /ENOENT|no such file/i },
  { name: 'a missing remote without an action', local: SIZE, remote: 'missing', says: /ENOENT|no such file/i },
  { name: 'a missing local with --recheck', local: 'missing', remote: SIZE, says: /ENOENT|no such file/i },
  { name: 'PUSH to a directory', local: SIZE, remote: 'directory', action: 'PUSH', says: /directory/ },
];

for (const { target, skip } of targets) {
  describe(`over ${target.name}: exit 2 and nothing written`, { skip }, () => {
    for (const c of cases) {
      // The size checks come before the mode matters; both modes are tried where sizes differ.
      const modes = c.action === undefined ? [[]] : /smaller/.test(c.name) ? [['-m', 'SYNC'], ['-m', 'COPY']] : [['-m', 'SYNC']];
      for (const mode of modes) {
        test(`${c.name}${mode.length > 0 ? ` (${mode[1]})` : ''}`, async () => {
          const local = await device(c.local, 1);
          const remote = await device(c.remote, 2);
          const before = [await fingerprint(local), await fingerprint(remote)];
          const action = c.action !== undefined ? ['-a', c.action] : c.name.includes('--recheck') ? ['--recheck'] : [];
          const r = await runBasyn(['-l', local, '-r', remote, ...target.args, ...action, ...mode], { env: target.env });
          assert.equal(r.code, 2, describeRun(r));
          assert.match(r.stderr, c.says);
          assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
          assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${JSON.stringify(r.stderr)}`);
          assert.deepEqual([await fingerprint(local), await fingerprint(remote)], before, 'a device was changed or created');
        });
      }
    }
  });
}
