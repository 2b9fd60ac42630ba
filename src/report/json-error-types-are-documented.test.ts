/**
 * --json's `error.type` is always one of the types README "JSON output" lists: a
 * basyn error by its documented class (a subclass such as the channel's
 * InputLostError by the documented class it derives from), anything else (a bug's
 * TypeError, a plain Error, a system error nobody typed, a thrown string) as
 * InternalError, its message kept.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RunSettings } from '../api/run.js';
import { ERROR_TYPES, exitCodeOf } from '../cli/exit-codes.js';
import {
  BitmapError, DeviceError, InterruptedError, ProtocolError, SyncError, TransportError, UsageError,
} from '../errors.js';
import { hashByName } from '../hash/hash-algorithms.js';
import { InputLostError } from '../protocol/channel.js';
import { REPO_ROOT } from '../test-support/paths.js';
import { jsonReport } from './json-report.js';

const SETTINGS: RunSettings = { local: 'a.img', remote: 'b.img', action: 'PUSH', mode: 'SYNC', recheck: false, hash: hashByName('SHA1')!, bufferSize: 2 * 1024 * 1024, zlevel: 0 };

/** The `type` values README's JSON table lists in the `error` row. */
function documentedTypes(): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## JSON output'));
  const row = section.split('\n').find((l) => l.startsWith('| `error` |'));
  assert.ok(row !== undefined, 'README "JSON output" has an `error` row');
  const list = /`type` \(([^)]*)\)/.exec(row)?.[1] ?? '';
  return [...list.matchAll(/`(\w+)`/g)].map((m) => m[1]!);
}

function typeOf(error: unknown): { type: string; message: string } {
  const report = jsonReport(SETTINGS, undefined, { exitCode: exitCodeOf(error), error });
  assert.ok(report.error !== null);
  assert.equal(report.exitCode, 2, 'a runtime failure exits 2');
  return report.error;
}

test('the error types basyn reports are exactly those README lists, InternalError among them', () => {
  assert.deepEqual([...ERROR_TYPES].sort(), documentedTypes().sort());
  assert.ok(ERROR_TYPES.includes('InternalError'));
});

test('an error basyn did not expect is reported as InternalError with its message', () => {
  const cases: [unknown, string][] = [
    [new TypeError("Cannot read properties of undefined (reading 'size')"), "Cannot read properties of undefined (reading 'size')"],
    [new Error('something odd'), 'something odd'],
    [Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' }), 'ENOSPC: no space left on device, write'],
    ['a thrown string', 'a thrown string'],
  ];
  for (const [error, message] of cases) {
    const e = typeOf(error);
    assert.equal(e.type, 'InternalError', `${String(error)}`);
    assert.equal(e.message, message);
  }
});

test('a basyn error is reported by its documented class, a subclass by the documented class it derives from', () => {
  assert.equal(jsonReport(SETTINGS, undefined, { exitCode: 1, error: new UsageError('bad') }).error?.type, 'UsageError');
  for (const [error, type] of [
    [new DeviceError('x'), 'DeviceError'], [new ProtocolError('x'), 'ProtocolError'], [new TransportError('x'), 'TransportError'],
    [new BitmapError('x'), 'BitmapError'], [new SyncError('x'), 'SyncError'], [new InterruptedError('x'), 'InterruptedError'],
    [new InputLostError('stream ended inside a frame'), 'ProtocolError'],
  ] as const) {
    assert.equal(typeOf(error).type, type, error.constructor.name);
  }
});

test('every type reported is one README lists', () => {
  const documented = new Set(documentedTypes());
  for (const error of [new InputLostError('x'), new RangeError('x'), new DeviceError('x'), 42, undefined]) {
    const type = jsonReport(SETTINGS, undefined, { exitCode: 2, error: error ?? new Error('undefined') }).error?.type;
    assert.ok(type !== undefined && documented.has(type), `${String(error)} reported as ${type}`);
  }
});
