/**
 * The command line: argv mapped onto the option schema. Pure: argv in, Options
 * out, UsageError on anything wrong, so a bad command line can never touch a device.
 */
import { UsageError } from '../errors.js';
import { OPTION_SCHEMA, type OptionEntry } from '../options/option-schema.js';
import { COMMAND_LINE } from '../options/option-spelling.js';
import type { OptionKey, Options } from '../options/options.js';
import { resolveOptions } from '../options/resolve-options.js';
import { quoteName } from '../report/quote.js';

/** Splits argv into (option, text) pairs; rejects unknown, repeated and malformed options. */
export function tokenize(argv: readonly string[]): Map<OptionEntry, string | true> {
  const seen = new Map<OptionEntry, string | true>();
  const put = (entry: OptionEntry, value: string | true, written: string): void => {
    if (seen.has(entry) && entry.repeatable === true) {
      seen.set(entry, `${String(seen.get(entry))}\0${String(value)}`);
      return;
    }
    if (seen.has(entry)) throw new UsageError(`option ${written} is given more than once`);
    seen.set(entry, value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (i + 1 < argv.length) throw new UsageError(`unexpected argument ${quoteName(argv[i + 1]!)} (basyn takes options only)`);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const entry = OPTION_SCHEMA.find((e) => e.long === name);
      if (entry === undefined) throw new UsageError(`unknown option --${name}`);
      if (!entry.kind.takesValue) {
        if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
        put(entry, true, `--${name}`);
      } else if (eq >= 0) {
        put(entry, arg.slice(eq + 1), `--${name}`);
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value`);
        put(entry, argv[++i]!, `--${name}`);
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      const letter = arg[1]!;
      const entry = OPTION_SCHEMA.find((e) => e.short === letter);
      if (entry === undefined) throw new UsageError(`unknown option -${letter}`);
      if (!entry.kind.takesValue) {
        if (arg.length > 2) throw new UsageError(`option -${letter} takes no value`);
        put(entry, true, `-${letter}`);
      } else if (arg.length > 2) {
        put(entry, arg.slice(2), `-${letter}`);
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`option -${letter} needs a value`);
        put(entry, argv[++i]!, `-${letter}`);
      }
      continue;
    }
    throw new UsageError(`unexpected argument ${quoteName(arg)} (basyn takes options only)`);
  }
  return seen;
}

export function parseOptions(argv: readonly string[]): Options {
  const tokens = tokenize(argv);
  const given = new Map<OptionKey, unknown>();
  const answersAlone = [...tokens.keys()].some((e) => e.key === 'help' || e.key === 'version' || e.key === 'completion');
  for (const [entry, text] of tokens) {
    // --help, --version and --completion don't look at the other values: `--help --buffer=x` is help.
    if (answersAlone && entry.kind.takesValue && entry.key !== 'completion') continue;
    given.set(entry.key, entry.kind.fromText(text, COMMAND_LINE.valueName(entry.key)));
  }
  return resolveOptions(given, COMMAND_LINE);
}
