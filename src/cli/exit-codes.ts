/**
 * The one place where errors become exit codes, as the original tool documents them:
 * 0 identical, 1 command line error (nothing changed), 2 runtime error.
 */
import { BasynError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_RUNTIME = 2;

export function exitCodeOf(error: unknown): number {
  return error instanceof BasynError ? error.exitCode : EXIT_RUNTIME;
}

/** The one line a user sees for an error. */
export function errorLine(error: unknown): string {
  if (error instanceof BasynError) return oneLine(error.message);
  if (error instanceof Error) return `unexpected error: ${oneLine(error.message)} (run with --debug for details)`;
  return `unexpected error: ${oneLine(String(error))}`;
}

/**
 * Keeps a message on one line: control characters from a path or a value the user
 * gave (a newline in a file name) are shown escaped, as \n, \t or \xNN.
 */
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}
