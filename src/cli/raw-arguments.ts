/**
 * Node decodes the command line as UTF-8 and turns every byte that is not valid UTF-8
 * into U+FFFD: a file name in another encoding arrives as a different name, which may
 * even exist. basyn cannot name such a file exactly, so it refuses the argument, shown
 * byte for byte, rather than open whatever the mangled name points to. The bytes as
 * given are in /proc/self/cmdline (Linux); elsewhere a U+FFFD is taken as the sign.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { quoteRawBytes } from '../report/quote.js';

export function refuseArgumentsNotUtf8(argv: readonly string[]): void {
  const raw = rawArguments(argv);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < argv.length; i++) {
    const bytes = raw?.[i];
    if (bytes !== undefined) {
      try {
        decoder.decode(bytes);
        continue;
      } catch {
        throw notUtf8(quoteRawBytes(bytes, 4096));
      }
    }
    if (raw === undefined && argv[i]!.includes('\uFFFD')) throw notUtf8(JSON.stringify(argv[i]));
  }
}

function notUtf8(shown: string): UsageError {
  return new UsageError(`argument ${shown} is not valid UTF-8; basyn cannot name that file exactly: rename it, or give a symlink with a UTF-8 name`);
}

/**
 * `argv` as the kernel holds it (the process's last arguments), or undefined where that
 * can't be read or is not this argv (main() called by a program with arguments of its own).
 */
function rawArguments(argv: readonly string[]): Buffer[] | undefined {
  let cmdline: Buffer;
  try {
    cmdline = readFileSync('/proc/self/cmdline');
  } catch {
    return undefined;
  }
  const all: Buffer[] = [];
  let start = 0;
  for (let at = cmdline.indexOf(0); at >= 0; at = cmdline.indexOf(0, start)) {
    all.push(cmdline.subarray(start, at));
    start = at + 1;
  }
  if (all.length < argv.length) return undefined;
  const raw = argv.length === 0 ? [] : all.slice(-argv.length);
  return raw.every((bytes, i) => bytes.toString('utf8') === argv[i]) ? raw : undefined;
}
