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
  if (error instanceof BasynError) return error.message;
  if (error instanceof Error) return `unexpected error: ${error.message} (run with --debug for details)`;
  return `unexpected error: ${String(error)}`;
}
