/**
 * How each caller names the options, so that a message speaks the caller's words:
 * "-b/--bitmap" on the command line, "bitmap" to a program using the library.
 */
import { entryOf } from './option-schema.js';
import type { OptionKey } from './options.js';

export interface Spelling {
  /** The option as a name: "-l/--local", "--buffer"; "local", "bufferKiB". */
  name(key: OptionKey): string;
  /** The option with its unit where it has one, for messages about its value: "--buffer (KiB)". */
  valueName(key: OptionKey): string;
  /** A flag as the caller sets it: "--no-bitmap-check"; "bitmapCheck: false". */
  flag(key: OptionKey): string;
  /** A size in KiB as the caller gave it: "128 KiB"; "128". */
  kib(bytes: number): string;
}

export const COMMAND_LINE: Spelling = {
  name(key) {
    const e = entryOf(key);
    return e.short !== undefined ? `-${e.short}/--${e.long}` : `--${e.long}`;
  },
  valueName(key) {
    const unit = entryOf(key).unit;
    return unit !== undefined ? `${this.name(key)} (${unit})` : this.name(key);
  },
  flag: (key) => `--${entryOf(key).long}`,
  kib: (bytes) => `${bytes / 1024} KiB`,
};

/** Options the library has no property for (the mode is the function called) keep their command-line name. */
export const LIBRARY: Spelling = {
  name: (key) => entryOf(key).library?.name ?? COMMAND_LINE.name(key),
  valueName: (key) => LIBRARY.name(key),
  flag(key) {
    const e = entryOf(key);
    // --no-bitmap-check is the property bitmapCheck set to false.
    return e.kind.fromText(true, '') === false ? `${this.name(key)}: false` : this.name(key);
  },
  kib: (bytes) => `${bytes / 1024}`,
};
