/**
 * One escaping for every name and foreign text a person reads (report/quote.ts): two
 * different names never print the same, and nothing printed holds a raw control
 * character. Checked on the function, then through the real command: --verbose lines,
 * error lines (local device, a device the agent opens, a bitmap), and the agent's
 * stderr lines shown by --debug.
 */
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeImage } from '../test-support/images.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { describeRun } from '../test-support/run-places.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { oneLine, quoteName, quoteText } from './quote.js';

/** Anything that would break a line, move the cursor or hide itself on a terminal. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e]/;

/** Names that differ by one character a careless escaping would merge. */
const TRICKY = [
  'disk.img', 'a\nb', 'a\\nb', 'a\\\nb', '"a\\nb"', '"a\nb"', 'a b', '"a b"', 'a\tb', 'a\\tb', 'a\x1b[31mb', 'a\\x1b[31mb',
  'a\rb', 'a\u0085b', 'a\\u{85}b', 'a\u00a0b', 'a\u202eb', 'a\u2028b', 'a\x7fb', 'a"b', "a'b", '', '"', '\\', 'é.img',
  'a\ud800b', '/dev/sda1', 'C:\\x',
];

describe('quoteName and quoteText', () => {
  test('a plain name prints as it is', () => {
    for (const name of ['disk.img', '/dev/sda1', 'my-disk_1.img', "it's.img", 'é.img', '/srv/данные.img']) {
      assert.equal(quoteName(name), name);
    }
  });

  test('a name with a space, quote, backslash or control character prints quoted, C style', () => {
    assert.equal(quoteName('a b'), '"a b"');
    assert.equal(quoteName('a\nb'), '"a\\nb"');
    assert.equal(quoteName('a\\nb'), '"a\\\\nb"');
    assert.equal(quoteName('say "x"'), '"say \\"x\\""');
    assert.equal(quoteName('a\x1b[31m'), '"a\\x1b[31m"');
    assert.equal(quoteName('a\u202eb'), '"a\\u{202e}b"');
    assert.equal(quoteName(''), '""');
  });

  test('two different names never print the same, and none prints a raw control character', () => {
    const seen = new Map<string, string>();
    for (const name of TRICKY) {
      for (const [how, shown] of [['name', quoteName(name)], ['text', quoteText(name)]] as const) {
        assert.doesNotMatch(shown, RAW_CONTROL, `${how} ${JSON.stringify(name)} printed as ${JSON.stringify(shown)}`);
        const key = `${how}:${shown}`;
        const other = seen.get(key);
        assert.ok(other === undefined || other === name, `${JSON.stringify(name)} and ${JSON.stringify(other)} both print as ${shown}`);
        seen.set(key, name);
      }
    }
  });

  test('a name given as bytes that are not UTF-8 shows those bytes as \\xNN, apart from any text', () => {
    const bytes = Buffer.from([0x61, 0xff, 0x62]);
    assert.equal(quoteName(bytes), '"a\\xffb"');
    assert.notEqual(quoteName(bytes), quoteName('a\\xffb'));
    assert.notEqual(quoteName(Buffer.from([0x61, 0x80])), quoteName('a\u0080'));
    assert.equal(quoteName(Buffer.from('disk.img')), 'disk.img');
    assert.equal(quoteName(Buffer.from('a\nb')), '"a\\nb"');
  });

  test("one of basyn's own messages, its names quoted already, is kept as it is; a raw control character left in it quotes it whole", () => {
    const own = `${quoteName('a b')} changed size during the run`;
    assert.equal(oneLine(own), '"a b" changed size during the run');
    assert.equal(oneLine(`cannot open local device ${quoteName('x\ny')}: ENOENT`), 'cannot open local device "x\\ny": ENOENT');
    assert.equal(oneLine('unexpected argument "x\ny"'), '"unexpected argument \\"x\\ny\\""');
  });

  test('a foreign text prints as it is unless it holds a control character or begins with a quote', () => {
    assert.equal(quoteText('ssh: connect to host x port 22: Connection refused'), 'ssh: connect to host x port 22: Connection refused');
    assert.equal(quoteText('cannot open "a b": ENOENT'), 'cannot open "a b": ENOENT');
    assert.equal(quoteText('\x1b[31mred'), '"\\x1b[31mred"');
    assert.equal(quoteText('"quoted"'), '"\\"quoted\\""');
  });
});

describe('through the basyn command', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    dir = await makeTempDir('basyn-quote-');
  });
  after(async () => dir?.remove());

  const lineWith = (output: string, needle: string): string => output.split('\n').find((l) => l.includes(needle)) ?? '';

  test('--verbose shows a device name with a newline and an escape code quoted on its line, locally and through an agent', async () => {
    const source = join(dir.path, 'src\n\x1b[2Jcleared.img');
    const destination = join(dir.path, 'dst "x".img');
    await writeImage(source, 64 * 1024, 1);
    await writeImage(destination, 64 * 1024, 2);
    for (const target of [{ name: 'locally', args: [] as string[] }, LOCAL_AGENT]) {
      const r = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '--verbose', ...target.args]);
      assert.equal(r.code, 0, describeRun(r));
      assert.doesNotMatch(r.stdout, RAW_CONTROL, `${target.name}: a raw control character on stdout: ${JSON.stringify(r.stdout)}`);
      const shownSource = quoteName(source);
      assert.equal(shownSource, `"${dir.path}/src\\n\\x1b[2Jcleared.img"`);
      assert.match(lineWith(r.stdout, 'local device'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: local device "/, target.name);
      assert.ok(lineWith(r.stdout, 'local device').includes(shownSource), `${target.name}: ${r.stdout}`);
      assert.ok(lineWith(r.stdout, 'remote device').includes(`"${dir.path}/dst \\"x\\".img"`), `${target.name}: ${r.stdout}`);
    }
  });

  test('two missing devices whose names differ only by a newline against a backslash-n are told apart, locally and by the agent', async () => {
    const good = join(dir.path, 'good.img');
    await writeImage(good, 64 * 1024, 3);
    for (const target of [{ name: 'locally', args: [] as string[] }, LOCAL_AGENT]) {
      const shown: string[] = [];
      for (const missing of [join(dir.path, 'gone\nx.img'), join(dir.path, 'gone\\nx.img')]) {
        const r = await runBasyn(['-l', good, '-r', missing, '-a', 'PUSH', '-m', 'SYNC', ...target.args]);
        assert.equal(r.code, 2, describeRun(r));
        const lines = r.stderr.split('\n').filter((l) => l !== '');
        assert.equal(lines.length, 1, `${target.name}: one line: ${JSON.stringify(r.stderr)}`);
        assert.doesNotMatch(lines[0]!, RAW_CONTROL);
        assert.ok(lines[0]!.includes(quoteName(missing)), `${target.name}: names ${quoteName(missing)}: ${lines[0]}`);
        shown.push(lines[0]!);
      }
      assert.notEqual(shown[0], shown[1], `${target.name}: both names print the same`);
    }
  });

  test('a bitmap error names the bitmap quoted', async () => {
    const source = join(dir.path, 'bm-src.img');
    const destination = join(dir.path, 'bm-dst.img');
    const bitmap = join(dir.path, 'map\tfile');
    await writeImage(source, 64 * 1024, 4);
    await writeImage(destination, 64 * 1024, 4);
    await writeFile(bitmap, 'x'.repeat(40));
    const r = await runBasyn(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '-b', bitmap]);
    assert.equal(r.code, 2, describeRun(r));
    assert.doesNotMatch(r.stderr, RAW_CONTROL);
    assert.ok(r.stderr.includes(`bitmap ${quoteName(bitmap)} is not a basyn bitmap`), r.stderr);
  });

  test('what the remote side prints on stderr is escaped, in --debug and in the error line', async () => {
    // A "node" on the remote side that writes a terminal escape and fails.
    const fakeNode = join(dir.path, 'fake-node');
    await writeFile(fakeNode, "#!/bin/sh\nprintf 'boot\\033[2J\\033]0;title\\007 failed\\n' >&2\nexit 3\n");
    await chmod(fakeNode, 0o755);
    const a = join(dir.path, 'fa.img');
    const b = join(dir.path, 'fb.img');
    await writeImage(a, 64 * 1024, 5);
    await writeImage(b, 64 * 1024, 5);
    const r = await runBasyn(['-l', a, '-r', b, '-a', 'PUSH', '-m', 'SYNC', '--remote-node', fakeNode, '--debug']);
    assert.equal(r.code, 2, describeRun(r));
    assert.doesNotMatch(r.stderr, /\x1b|\x07/, `a raw escape reached the terminal: ${JSON.stringify(r.stderr)}`);
    const shown = '"boot\\x1b[2J\\x1b]0;title\\x07 failed"';
    assert.ok(r.stderr.split('\n').includes(`remote: ${shown}`), `--debug shows the remote line escaped: ${JSON.stringify(r.stderr)}`);
    assert.match(lineWith(r.stderr, 'basyn: '), new RegExp(`exited with code 3: ${shown.replace(/[[\]\\()]/g, '\\$&')}`));
  });
});
