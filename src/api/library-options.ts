/**
 * A library caller's options object mapped onto the option schema. JavaScript
 * callers pass anything (a string for a flag, null for a path, a misspelt name), so
 * every property is checked at run time against the same kinds and rules as the
 * command line, and refused with a UsageError that names it the way the library
 * spells it.
 */
import { UsageError } from '../errors.js';
import { describeValue } from '../options/option-kinds.js';
import { OPTION_SCHEMA, type LibraryCall, type OptionEntry } from '../options/option-schema.js';
import { LIBRARY } from '../options/option-spelling.js';
import type { Mode, OptionKey, Options } from '../options/options.js';
import { resolveOptions } from '../options/resolve-options.js';
import type { ProgressLine } from '../report/progress-printer.js';
import { quoteName } from '../report/quote.js';

/** What the library adds to the options: how the run reports and is stopped. */
export interface LibraryHooks {
  signal?: AbortSignal;
  onProgress?: (event: ProgressLine) => void;
  onLog?: (line: string) => void;
}

const HOOKS = ['signal', 'onProgress', 'onLog'] as const;

const MODE_OF_CALL: Record<LibraryCall, Mode | undefined> = { sync: 'SYNC', copy: 'COPY', recheck: undefined, applyDelta: undefined };

export function libraryOptions(call: LibraryCall, raw: unknown): { options: Options; hooks: LibraryHooks } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new UsageError(`${call}() needs an options object, got ${describeValue(raw)}`);
  }
  const object = raw as Record<string, unknown>;
  const given = new Map<OptionKey, unknown>();
  for (const [name, value] of Object.entries(object)) {
    // An option set to undefined is an option not given, as `{ port: config.port }` means.
    if (value === undefined || (HOOKS as readonly string[]).includes(name)) continue;
    const entry = OPTION_SCHEMA.find((e) => e.library?.name === name);
    if (entry === undefined || !entry.library!.calls.includes(call)) throw new UsageError(unknownOption(call, name, entry));
    given.set(entry.key, entry.kind.fromValue(value, name));
  }
  for (const entry of OPTION_SCHEMA) {
    const library = entry.library;
    if (library?.requiredBy?.includes(call) === true && !given.has(entry.key)) {
      throw new UsageError(`${library.name} is required: ${entry.kind.expects}`);
    }
  }
  if (MODE_OF_CALL[call] !== undefined) given.set('mode', MODE_OF_CALL[call]);
  if (call === 'recheck') given.set('recheck', true);
  return { options: resolveOptions(given, LIBRARY), hooks: checkedHooks(object) };
}

function checkedHooks(object: Record<string, unknown>): LibraryHooks {
  const { signal, onProgress, onLog } = object;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new UsageError(`signal must be an AbortSignal, got ${describeValue(signal)}`);
  for (const [name, value] of [['onProgress', onProgress], ['onLog', onLog]] as const) {
    if (value !== undefined && typeof value !== 'function') throw new UsageError(`${name} must be a function, got ${describeValue(value)}`);
  }
  return { signal, onProgress, onLog } as LibraryHooks;
}

/** "unknown option ..." with the nearest name, or the call that takes the option. */
function unknownOption(call: LibraryCall, name: string, entry: OptionEntry | undefined): string {
  if (entry !== undefined) {
    return `${name} is an option of ${entry.library!.calls.map((c) => `${c}()`).join(' and ')}, not of ${call}()`;
  }
  if (name === 'mode') return `mode is not an option of ${call}(): sync() and copy() are the two modes`;
  const names = OPTION_SCHEMA.filter((e) => e.library?.calls.includes(call) === true);
  const near = names.find((e) => [e.library!.name, e.long, camel(e.long)].some((n) => close(n, name)));
  const hook = HOOKS.find((h) => close(h, name));
  const guess = near?.library!.name ?? hook;
  return `unknown option ${quoteName(name)} of ${call}()${guess !== undefined ? ` (did you mean ${guess}?)` : ''}`;
}

function camel(long: string): string {
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Same name but for case, or a letter or two off (one for short names, which are all near each other). */
function close(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || editDistance(x, y) <= (Math.min(x.length, y.length) > 4 ? 2 : 1);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}
