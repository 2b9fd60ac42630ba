/**
 * JavaScript callers are not held to the library's types: every option is checked
 * at run time, and anything wrong rejects with a UsageError that names the option as
 * the library spells it, before any device is opened. Checked through the exported
 * functions, with real files: the destination keeps its bytes, and no file appears
 * (`remote: null` once created a file named "null").
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { copy, recheck, sync, UsageError } from '../index.js';
import { cmp, sha256File, writeImage } from '../test-support/images.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 256 * 1024 + 11;

let dir: { path: string; remove(): Promise<void> };
let local: string;
let remote: string;
const startedIn = process.cwd();

before(async () => {
  dir = await makeTempDir('basyn-library-checks-');
  local = join(dir.path, 'source.img');
  remote = join(dir.path, 'destination.img');
  await writeImage(local, SIZE, 1);
  await writeImage(remote, SIZE, 2);
  // Relative paths (like the "null" that `remote: null` became) land here, where the test looks.
  process.chdir(dir.path);
});
after(async () => {
  process.chdir(startedIn);
  await dir.remove();
});

type Call = () => Promise<unknown>;
const anyOptions = (o: unknown): any => o;

/** Each case: what the caller did wrong, the call, and the exact message. */
const CASES: [string, Call, string][] = [
  ['no options at all', () => sync(anyOptions(undefined)), 'sync() needs an options object, got undefined'],
  ['null', () => sync(anyOptions(null)), 'sync() needs an options object, got null'],
  ['a number', () => copy(anyOptions(42)), 'copy() needs an options object, got 42'],
  ['no action', () => sync(anyOptions({ local, remote })), "action is required: 'PUSH' or 'PULL'"],
  ['an unknown action', () => copy(anyOptions({ local, remote, action: 'SIDEWAYS' })), `action must be 'PUSH' or 'PULL', got the string SIDEWAYS`],
  ['a string for a flag', () => sync(anyOptions({ local, remote, action: 'PUSH', dryRun: 'true' })), 'dryRun must be true or false, got the string true'],
  ['null for a path', () => sync(anyOptions({ local, remote: null, action: 'PUSH' })), 'remote must be a non-empty string, got null'],
  ['an empty path', () => sync(anyOptions({ local: '', remote, action: 'PUSH' })), 'local must be a non-empty string, got the string ""'],
  ['a path with NUL', () => sync(anyOptions({ local, remote: `${remote}\0x`, action: 'PUSH' })), 'remote contains a NUL character'],
  ['a buffer of 0 KiB', () => sync(anyOptions({ local, remote, action: 'PUSH', bufferKiB: 0 })), 'bufferKiB must be a whole number between 1 and 1048576, got 0'],
  ['a buffer as a string', () => sync(anyOptions({ local, remote, action: 'PUSH', bufferKiB: '64' })), 'bufferKiB must be a whole number between 1 and 1048576, got the string 64'],
  ['a fractional chunk', () => sync(anyOptions({ local, remote, action: 'PUSH', chunkKiB: 1.5 })), 'chunkKiB must be a whole number between 1 and 1048576, got 1.5'],
  ['zlevel NaN', () => copy(anyOptions({ local, remote, action: 'PUSH', zlevel: NaN })), 'zlevel must be a whole number between 0 and 19, got NaN'],
  ['zlevel 10 without compress (zlib)', () => copy(anyOptions({ local, remote, action: 'PUSH', zlevel: 10 })), 'zlevel must be 0 to 9 with zlib (the codec without compress) (zlevel 10)'],
  ['zlevel 0 with zstd', () => copy(anyOptions({ local, remote, action: 'PUSH', compress: 'zstd', zlevel: 0 })), 'zlevel must be 1 to 19 with zstd (zlevel 0)'],
  ['zlevel with auto', () => copy(anyOptions({ local, remote, action: 'PUSH', compress: 'auto', zlevel: 3 })), 'zlevel needs compress zstd or zlib (auto chooses its levels, none has none)'],
  ['an unknown codec', () => copy(anyOptions({ local, remote, action: 'PUSH', compress: 'lz4' })), 'compress must be one of AUTO, ZSTD, ZLIB, NONE, got the string lz4'],
  ['compress not a string', () => copy(anyOptions({ local, remote, action: 'PUSH', compress: 3 })), 'compress must be one of AUTO, ZSTD, ZLIB, NONE, got 3'],
  ['bwlimit 0', () => copy(anyOptions({ local, remote, action: 'PUSH', bwlimit: 0 })), 'bwlimit must be a positive rate such as 500K, 20M or 1.5G (a plain number is KiB/s), got 0'],
  ['bwlimit negative', () => copy(anyOptions({ local, remote, action: 'PUSH', bwlimit: -5 })), 'bwlimit must be a positive rate such as 500K, 20M or 1.5G (a plain number is KiB/s), got -5'],
  ['bwlimit Infinity', () => copy(anyOptions({ local, remote, action: 'PUSH', bwlimit: Infinity })), 'bwlimit must be a positive rate such as 500K, 20M or 1.5G (a plain number is KiB/s), got Infinity'],
  ['bwlimit junk', () => copy(anyOptions({ local, remote, action: 'PUSH', bwlimit: 'fast' })), 'bwlimit must be a positive rate such as 500K, 20M or 1.5G (a plain number is KiB/s), got fast'],
  ['a port as a string', () => sync(anyOptions({ local, remote, host: 'h', port: '22', action: 'PUSH' })), 'port must be a whole number between 1 and 65535, got the string 22'],
  ['an unknown hash', () => sync(anyOptions({ local, remote, action: 'PUSH', hash: 'SHA3' })), `hash must be one of AUTO, SHA1, SHA224, SHA256, SHA384, SHA512, BLAKE2B, BLAKE2S, MD5, XXH128, BLAKE3, got the string SHA3`],
  ['USER@HOST and user', () => sync(anyOptions({ local, remote, action: 'PUSH', host: 'alice@h', user: 'bob' })), "host USER@HOST can't be combined with user or a user inside rsh; give the user once"],
  ['a host after @ beginning with -', () => sync(anyOptions({ local, remote, action: 'PUSH', host: 'alice@-oProxyCommand=x' })), 'host alice@-oProxyCommand=x has a host after "@" that begins with "-"; refusing it so it cannot become an ssh option'],
  ['a control character in a string value', () => copy(anyOptions({ local, remote, action: 'PU\x1bSH' })), `action must be 'PUSH' or 'PULL', got the string "PU\\x1bSH"`],
  ['a host beginning with -', () => sync(anyOptions({ local, remote, action: 'PUSH', host: '-oProxyCommand=x' })), 'host -oProxyCommand=x begins with "-"; refusing it so it cannot become an ssh option'],
  ['rsh as an empty array', () => sync(anyOptions({ local, remote, action: 'PUSH', host: 'h', rsh: [] })), 'rsh must be a non-empty string or an array of non-empty strings, got an array'],
  ['a misspelt option', () => sync(anyOptions({ local, remote, action: 'PUSH', dryrun: true })), 'unknown option dryrun of sync() (did you mean dryRun?)'],
  ['the command line\'s name', () => sync(anyOptions({ local, remote, action: 'PUSH', buffer: 64 })), 'unknown option buffer of sync() (did you mean bufferKiB?)'],
  ['an unknown option', () => sync(anyOptions({ local, remote, action: 'PUSH', frobnicate: 1 })), 'unknown option frobnicate of sync()'],
  ['an option of sync given to copy', () => copy(anyOptions({ local, remote, action: 'PUSH', dryRun: true })), 'dryRun is an option of sync(), not of copy()'],
  ['an action given to recheck', () => recheck(anyOptions({ local, remote, action: 'PUSH' })), 'action is an option of sync() and copy(), not of recheck()'],
  ['a mode', () => copy(anyOptions({ local, remote, action: 'PUSH', mode: 'SYNC' })), 'mode is not an option of copy(): sync() and copy() are the two modes'],
  ['onProgress not a function', () => sync(anyOptions({ local, remote, action: 'PUSH', onProgress: 'yes' })), 'onProgress must be a function, got the string yes'],
  ['onLog not a function', () => sync(anyOptions({ local, remote, action: 'PUSH', onLog: {} })), 'onLog must be a function, got an object'],
  ['signal not an AbortSignal', () => sync(anyOptions({ local, remote, action: 'PUSH', signal: { aborted: false } })), 'signal must be an AbortSignal, got an object'],
  // The rules between options speak the library's names too.
  ['rsh without host', () => sync({ local, remote, action: 'PUSH', rsh: 'ssh -C' }), 'rsh needs host'],
  ['port without host', () => sync({ local, remote, action: 'PUSH', port: 2222 }), 'port needs host'],
  ['chunk larger than buffer', () => copy({ local, remote, action: 'PULL', bufferKiB: 64, chunkKiB: 128 }), "chunkKiB can't be larger than bufferKiB (128 > 64)"],
  ['bitmapCheck without bitmap', () => sync({ local, remote, action: 'PUSH', bitmapCheck: false }), 'bitmapCheck: false needs bitmap'],
  ['dryRun with create', () => sync({ local, remote, action: 'PUSH', dryRun: true, create: true }), "dryRun can't be combined with create"],
  ['recheck without remote', () => recheck(anyOptions({ local })), 'remote is required'],
  // Found by run(), after the options are read: still in the library's names.
  ['a bitmap that is the destination', () => sync({ local: 'source.img', remote: 'destination.img', action: 'PUSH', bitmap: 'destination.img' }),
    'bitmap destination.img is the same file as the remote device destination.img; the bitmap must be a file of its own'],
  ['a delta that is the source', () => sync({ local: 'source.img', remote: 'destination.img', action: 'PUSH', writeDelta: 'source.img' }),
    'writeDelta source.img is the same file as the local device source.img; the delta must be a file of its own'],
  ['a host without a remote device', () => sync({ local, action: 'PUSH', bitmap: join(dir.path, 'bm'), host: 'h' }),
    'host is for the remote device, but remote is not given: this run would only update the bitmap'],
];

for (const [name, call, message] of CASES) {
  test(`${name}: a UsageError naming the option as the library spells it, nothing touched`, async () => {
    const before = await sha256File(remote);
    const files = (await readdir(dir.path)).sort();
    let outcome: unknown = 'resolved';
    // A TypeError thrown before the promise exists counts as a failure too.
    try {
      outcome = await call().then(() => 'resolved');
    } catch (error) {
      outcome = error;
    }
    assert.ok(outcome instanceof UsageError, `expected a UsageError, got ${outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : String(outcome)}`);
    assert.equal(outcome.message, message);
    assert.equal(outcome.exitCode, 1);
    assert.doesNotMatch(outcome.message, /-[a-z]\/--|--[a-z]/, 'no command-line names in a library message');
    assert.equal(await sha256File(remote), before, 'the destination changed');
    assert.deepEqual((await readdir(dir.path)).sort(), files, 'a file appeared or vanished');
  });
}

test('options set to undefined count as not given, and a valid call still syncs', async () => {
  const result = await sync({ local, remote, action: 'PUSH', bufferKiB: 64, port: undefined, host: undefined, bitmap: undefined });
  assert.equal(result.ok, true);
  assert.ok(await cmp(local, remote));
});
