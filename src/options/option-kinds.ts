/**
 * The kinds of value an option takes, and how each is read from the two callers:
 * the command line gives text, a library caller any JavaScript value. Both are held
 * to the same range and content checks, so a value the command line refuses is
 * refused from a program too; only the messages' names differ (the caller passes
 * the option's name as it spells it).
 */
import { UsageError } from '../errors.js';
import { splitShellWords } from '../transport/shell-words.js';
import { quoteName } from '../report/quote.js';

export interface ValueKind<T> {
  /** False for a flag: on the command line it is given alone, without a value. */
  readonly takesValue: boolean;
  /** What a library caller must give, for "x is required: ..." ("'PUSH' or 'PULL'"). */
  readonly expects: string;
  /** From the command line; a flag's text is `true` (it was given). */
  fromText(text: string | true, name: string): T;
  /** From a library caller (never undefined: an absent option is not read). */
  fromValue(value: unknown, name: string): T;
  /** The names a choice takes (shell completion offers them). */
  readonly names?: readonly string[];
}

/** A JavaScript value as a message shows it: `the string "true"`, `null`, `1.5`, `an object`. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `the string ${quoteName(value)}`;
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}

function refuse(message: string): never {
  throw new UsageError(message);
}

/** A flag; on the command line, giving it sets `whenGiven` (--no-bitmap-check sets false). */
export function flag(whenGiven = true): ValueKind<boolean> {
  return {
    takesValue: false,
    expects: 'true or false',
    fromText: () => whenGiven,
    fromValue: (v, name) => (typeof v === 'boolean' ? v : refuse(`${name} must be true or false, got ${describeValue(v)}`)),
  };
}

/**
 * A non-empty string (a path, a host); `problem` says what else is wrong with one,
 * as the end of a sentence that starts with the option and its value.
 */
export function text(problem: (value: string) => string | undefined = () => undefined): ValueKind<string> {
  const check = (value: string, name: string): string => {
    if (value === '') refuse(`${name} is empty`);
    // A path with NUL can't be opened; only a program can pass one.
    if (value.includes('\0')) refuse(`${name} contains a NUL character`);
    const wrong = problem(value);
    return wrong === undefined ? value : refuse(`${name} ${quoteName(value)} ${wrong}`);
  };
  return {
    takesValue: true,
    expects: 'a non-empty string',
    fromText: (t, name) => check(String(t), name),
    fromValue: (v, name) => (typeof v === 'string' && v !== '' ? check(v, name) : refuse(`${name} must be a non-empty string, got ${describeValue(v)}`)),
  };
}

/**
 * One or more non-empty strings, in order (a repeatable option: the command line
 * joins its values with NUL, which no argument can hold); a program gives a string
 * or an array of strings.
 */
export function textList(): ValueKind<string[]> {
  const one = text();
  const expects = 'a non-empty string or a non-empty array of non-empty strings';
  return {
    takesValue: true,
    expects,
    fromText: (t, name) => String(t).split('\0').map((v) => one.fromText(v, name)),
    fromValue: (v, name) => {
      if (typeof v === 'string') return [one.fromValue(v, name)];
      if (Array.isArray(v) && v.length > 0) return v.map((x) => one.fromValue(x, name));
      return refuse(`${name} must be ${expects}, got ${describeValue(v)}`);
    },
  };
}

/** A whole number in [min, max]; `scale` turns it into the stored value (KiB to bytes). */
export function integer(min: number, max: number, scale = 1): ValueKind<number> {
  const range = `a whole number between ${min} and ${max}`;
  return {
    takesValue: true,
    expects: range,
    fromText: (t, name) => {
      const s = String(t);
      const n = Number(s);
      return /^[0-9]+$/.test(s) && n >= min && n <= max ? n * scale : refuse(`${name} must be ${range}, got ${quoteName(s)}`);
    },
    fromValue: (v, name) =>
      typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v * scale : refuse(`${name} must be ${range}, got ${describeValue(v)}`),
  };
}

/**
 * One of a few names, in any case (`-a push` works). The command line's message keeps
 * the original tool's "unknown action" wording; a program is told what to pass.
 */
export function choice<T>(noun: string, names: readonly string[], valueOf: (name: string) => T): ValueKind<T> {
  const expects = names.length === 2 ? `'${names[0]}' or '${names[1]}'` : `one of ${names.join(', ')}`;
  const find = (s: string): string | undefined => names.find((n) => n === s.toUpperCase());
  const use = names.length === 2 ? `use ${names[0]} or ${names[1]}` : `use one of ${names.join(', ')}`;
  return {
    takesValue: true,
    expects,
    names,
    fromText: (t) => {
      const found = find(String(t));
      return found !== undefined ? valueOf(found) : refuse(`unknown ${noun} ${quoteName(String(t))} (${use})`);
    },
    fromValue: (v, name) => {
      const found = typeof v === 'string' ? find(v) : undefined;
      return found !== undefined ? valueOf(found) : refuse(`${name} must be ${expects}, got ${describeValue(v)}`);
    },
  };
}

/**
 * A command and its options (-e): text split into words like a shell splits it (never
 * run by one); a program may also give the words themselves.
 */
export function commandWords(): ValueKind<string[]> {
  const split = (s: string, name: string): string[] => {
    let words: string[];
    try {
      words = splitShellWords(s);
    } catch (error) {
      throw new UsageError(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return words.length > 0 ? words : refuse(`${name} is empty`);
  };
  const expects = 'a non-empty string or an array of non-empty strings';
  return {
    takesValue: true,
    expects,
    fromText: (t, name) => split(String(t), name),
    fromValue: (v, name) => {
      if (typeof v === 'string' && v.trim() !== '') return split(v, name);
      if (Array.isArray(v) && v.length > 0 && v.every((w) => typeof w === 'string' && w !== '' && !w.includes('\0'))) return [...(v as string[])];
      return refuse(`${name} must be ${expects}, got ${describeValue(v)}`);
    },
  };
}

const RATE_UNITS: Record<string, number> = {
  '': 1024, b: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2, g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
};

/**
 * A transfer rate as rsync's --bwlimit reads it: a positive number with an optional
 * unit (K, M, G: 1024-based; KB, MB, GB: 1000-based; B: bytes); a plain number is
 * KiB/s. Stored as bytes per second. Zero is refused: basyn has no "unlimited" value
 * to spell, leaving the option out is that.
 */
export function rate(): ValueKind<number> {
  const expects = 'a positive rate such as 500K, 20M or 1.5G (a plain number is KiB/s)';
  const parse = (s: string, name: string): number => {
    const m = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(s.trim());
    const unit = m !== null ? RATE_UNITS[m[2]!.toLowerCase()] : undefined;
    const bytes = m !== null && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
    return Number.isSafeInteger(bytes) && bytes >= 1 ? bytes : refuse(`${name} must be ${expects}, got ${quoteName(s)}`);
  };
  return {
    takesValue: true,
    expects,
    fromText: (t, name) => parse(String(t), name),
    fromValue: (v, name) => {
      if (typeof v === 'string') return parse(v, name);
      if (typeof v === 'number' && Number.isFinite(v) && v > 0) return parse(String(v), name);
      return refuse(`${name} must be ${expects}, got ${describeValue(v)}`);
    },
  };
}
