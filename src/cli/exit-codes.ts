/**
 * The one place where errors become exit codes, as the original tool documents them:
 * 0 identical, 1 command line error (nothing changed), 2 runtime error.
 */
import { BasynError, BitmapError, DeviceError, InterruptedError, ProtocolError, SyncError, TransportError, UsageError } from '../errors.js';
import { oneLine, quoteText } from '../report/quote.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_RUNTIME = 2;

export function exitCodeOf(error: unknown): number {
  return error instanceof BasynError ? error.exitCode : EXIT_RUNTIME;
}

/**
 * The `error.type` values of --json, as README "JSON output" lists them: each
 * documented class (a subclass reports as the documented class it derives from),
 * and InternalError for anything basyn did not expect (a bug's TypeError, a system
 * error no module turned into a typed one), which exits 2 like any runtime error.
 */
const DOCUMENTED_TYPES = [
  ['UsageError', UsageError], ['DeviceError', DeviceError], ['ProtocolError', ProtocolError], ['TransportError', TransportError],
  ['BitmapError', BitmapError], ['SyncError', SyncError], ['InterruptedError', InterruptedError],
] as const;
export type ErrorType = (typeof DOCUMENTED_TYPES)[number][0] | 'InternalError';
export const ERROR_TYPES: readonly ErrorType[] = [...DOCUMENTED_TYPES.map(([name]) => name), 'InternalError'];

export function errorTypeOf(error: unknown): ErrorType {
  return DOCUMENTED_TYPES.find(([, type]) => error instanceof type)?.[0] ?? 'InternalError';
}

/** The one line a user sees for an error. */
export function errorLine(error: unknown): string {
  if (error instanceof BasynError) return oneLine(error.message);
  if (error instanceof Error) return `unexpected error: ${quoteText(error.message)} (run with --debug for details)`;
  return `unexpected error: ${quoteText(String(error))}`;
}

/** Keeps a message on one line, for main.ts (report/quote.ts). */
export { oneLine };
