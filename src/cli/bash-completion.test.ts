/**
 * `basyn --completion bash` prints a script that bash loads, and that completes
 * options, the names a choice takes (in the case being typed), and file paths for
 * devices, for both `--name value` and `--name=value`. Checked in a real bash, with
 * the script from the real command, through COMP_WORDS/COMP_CWORD as bash sets them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OPTION_SCHEMA } from '../options/option-schema.js';
import { describeRun, runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const bashMissing = spawnSync('bash', ['--version']).error !== undefined ? 'bash is not installed' : false;
let dir: { path: string; remove(): Promise<void> };
let script: string;

before(async () => {
  dir = await makeTempDir('basyn-completion-');
  const r = await runBasyn(['--completion', 'bash']);
  assert.equal(r.code, 0, describeRun(r));
  script = join(dir.path, 'basyn.bash');
  await writeFile(script, r.stdout);
  await mkdir(join(dir.path, 'images'));
  for (const name of ['disk one.img', 'disk-two.img', 'other.img']) await writeFile(join(dir.path, 'images', name), '');
});
after(async () => {
  await dir?.remove();
});

/** What bash offers for the command line `words`, the last being completed. */
function complete(words: string[], wordBreaks?: string): string[] {
  const setup = wordBreaks !== undefined ? `COMP_WORDBREAKS=${JSON.stringify(wordBreaks)}; ` : '';
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `${setup}source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _basyn; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', script], {
    encoding: 'utf8',
    cwd: dir.path,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout.split('\n').filter((l) => l !== '').sort();
}

test('the script is registered for basyn when sourced', { skip: bashMissing }, () => {
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', 'source "$1"; complete -p basyn', 'bash', script], { encoding: 'utf8' });
  assert.equal(r.stdout.trim(), 'complete -F _basyn basyn');
});

test('every option of the schema is offered after "--"', { skip: bashMissing }, () => {
  assert.deepEqual(complete(['basyn', '--']), OPTION_SCHEMA.map((e) => `--${e.long}`).sort());
  assert.deepEqual(complete(['basyn', '-l', 'x', '--rem']), ['--remote', '--remote-node']);
});

test('actions, modes and hashes complete in the case being typed', { skip: bashMissing }, () => {
  assert.deepEqual(complete(['basyn', '-a', 'P']), ['PULL', 'PUSH']);
  assert.deepEqual(complete(['basyn', '--action', 'pu']), ['pull', 'push']);
  assert.deepEqual(complete(['basyn', '-m', '']), ['COPY', 'SYNC']);
  assert.deepEqual(complete(['basyn', '--hash', 'BLAKE']), ['BLAKE2B', 'BLAKE2S', 'BLAKE3']);
  assert.deepEqual(complete(['basyn', '--hash', 'xx']), ['xxh128']);
});

test('--name=value completes whether or not bash splits the word at "="', { skip: bashMissing }, () => {
  assert.deepEqual(complete(['basyn', '--hash', '=', 'SHA5']), ['SHA512']);
  assert.deepEqual(complete(['basyn', '--mode', '=']), ['COPY', 'SYNC']);
  assert.deepEqual(complete(['basyn', '--hash=SHA5'], ' \t\n"\'><;|&('), ['--hash=SHA512']);
});

test('devices and bitmaps complete to file paths, names with spaces included', { skip: bashMissing }, () => {
  assert.deepEqual(complete(['basyn', '-l', 'images/disk']), ['images/disk one.img', 'images/disk-two.img']);
  assert.deepEqual(complete(['basyn', '-l', 'a', '--remote', 'images/o']), ['images/other.img']);
  assert.deepEqual(complete(['basyn', '-b', 'images/disk-']), ['images/disk-two.img']);
});

test('a number offers nothing, and a value already given lets options complete again', { skip: bashMissing }, () => {
  assert.deepEqual(complete(['basyn', '--buffer', '']), []);
  assert.deepEqual(complete(['basyn', '--buffer', '64', '--stat', '--zl']), ['--zlevel']);
});
