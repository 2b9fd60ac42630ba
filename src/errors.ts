/**
 * The error vocabulary of basyn. Every failure a user can meet is one of these
 * types; `exitCodeOf` in cli/exit-codes.ts is the one place that maps them to the
 * documented exit codes (1: usage, nothing touched; 2: runtime, data may have changed).
 */
import { quoteName } from './report/quote.js';

/** Where an error happened, so messages can name the side, device, operation and offset. */
export interface ErrorContext {
  /** "local" or "remote" (the agent's side). */
  side?: 'local' | 'remote';
  /** The device path as the user gave it. */
  device?: string;
  /** What was being done: "open", "read", "write", "flush", "hash", ... */
  operation?: string;
  /** Byte offset in the device, when one applies. */
  offset?: number;
}

export abstract class BasynError extends Error {
  abstract readonly exitCode: 1 | 2;
  readonly context: ErrorContext;
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
  }
}

/** The command line is wrong. Raised before anything is opened for writing. */
export class UsageError extends BasynError {
  readonly exitCode = 1 as const;
}

/** A device could not be opened, read, written or flushed, or its size is unusable. */
export class DeviceError extends BasynError {
  readonly exitCode = 2 as const;
}

/** The peer broke the protocol: bad frame, wrong version, unexpected message, lost connection. */
export class ProtocolError extends BasynError {
  readonly exitCode = 2 as const;
}

/** The remote side could not be started or reached (ssh failed, node missing or too old). */
export class TransportError extends BasynError {
  readonly exitCode = 2 as const;
}

/** A bitmap file is unusable for this run (wrong header, size, hash) or locked. */
export class BitmapError extends BasynError {
  readonly exitCode = 2 as const;
}

/** The devices differ after the run (recheck, dry run) or the run cannot proceed (sizes). */
export class SyncError extends BasynError {
  readonly exitCode = 2 as const;
}

/** The run was stopped by a signal or an AbortSignal. */
export class InterruptedError extends BasynError {
  readonly exitCode = 2 as const;
}

/** Renders the context as a suffix: " (remote device /dev/sdb, write at offset 1048576)". */
export function describeContext(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.device !== undefined) parts.push(`${context.side ?? ''} device ${quoteName(context.device)}`.trim());
  if (context.operation !== undefined) {
    parts.push(context.offset !== undefined ? `${context.operation} at offset ${context.offset}` : context.operation);
  } else if (context.offset !== undefined) {
    parts.push(`at offset ${context.offset}`);
  }
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** Text of a Node system error without its stack: "ENOSPC: no space left on device". */
export function systemErrorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const text = error.message.replace(/^[A-Z]+: /, '').replace(/, \w+( '[\s\S]*')?$/, '');
    return code !== undefined ? `${code}: ${text}` : error.message;
  }
  return String(error);
}
