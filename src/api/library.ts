/**
 * The library API: `sync`, `copy` and `recheck` with typed options that mirror the
 * command line. The options are read through the same schema and rules as the
 * command line (library-options.ts), checked at run time since JavaScript callers
 * are not held to the types, and named in messages as the library spells them.
 * Failures reject with the typed errors of errors.ts.
 */
import { dryRunFailure, recheckFailure, run, type RunResult } from './run.js';
import { libraryOptions } from './library-options.js';
import type { LibraryCall } from '../options/option-schema.js';
import type { EngineLog, ProgressListener } from '../engine/engine-context.js';
import { jsonReport, type JsonReport } from '../report/json-report.js';
import { ProgressPrinter, type ProgressLine } from '../report/progress-printer.js';
import { LIBRARY } from '../options/option-spelling.js';

export type { JsonReport as BasynResult } from '../report/json-report.js';
export type { ProgressLine as ProgressEvent } from '../report/progress-printer.js';

export interface ConnectionOptions {
  /** The local device or image (-l). */
  local?: string;
  /** The remote device or image (-r). */
  remote?: string;
  /** SSH host (-h); without it the "remote" device is on this machine. */
  host?: string;
  port?: number;
  user?: string;
  /** The ssh command (-e), as one string split like a shell would, or as words. */
  rsh?: string | readonly string[];
  remoteNode?: string;
  sudo?: boolean;
  /** 'auto' (default: XXH128 for a sync without a bitmap, SHA1 with one), SHA1, SHA224, SHA256, SHA384, SHA512, BLAKE2B, BLAKE2S, MD5, XXH128, BLAKE3. */
  hash?: string;
  /** Block size in KiB (default 2048). */
  bufferKiB?: number;
  /** Chunk size in KiB for the finer comparison. */
  chunkKiB?: number;
  /** zlib level 0-9 (default 9). */
  /** 'auto' (default), 'zstd', 'zlib' or 'none'. */
  compress?: 'auto' | 'zstd' | 'zlib' | 'none';
  /** The level of `compress` (zstd 1-19, zlib 0-9); alone, zlib at that level. */
  zlevel?: number;
  /** Wire rate limit: KiB/s as a number, or a string with a unit ("500K", "20M"). */
  bwlimit?: number | string;
  /** Stops the run cleanly (it then rejects with an InterruptedError). */
  signal?: AbortSignal;
  /** Progress, at most every 200 ms and once at the end of each phase. */
  onProgress?: (event: ProgressLine) => void;
  /** The lines --verbose would print. */
  onLog?: (line: string) => void;
}

export interface TransferOptions extends ConnectionOptions {
  action: 'PUSH' | 'PULL';
  /** Compare both devices after the transfer; a difference rejects with a SyncError. */
  recheck?: boolean;
  /** Create or extend a destination image file to the source size. */
  create?: boolean;
  /** Save the old contents of every overwritten block into this undo file (on the destination's machine). */
  undo?: string;
  /** With local "-": the source is standard input, of exactly this many bytes. */
  size?: number;
}

export interface SyncOptions extends TransferOptions {
  bitmap?: string;
  resetBitmap?: boolean;
  updateBitmap?: boolean;
  /** Spot-check the bitmap against the destination (default true). */
  bitmapCheck?: boolean;
  /** Compare, write nothing; the result lists the differences (and `ok` is false if any). */
  dryRun?: boolean;
  /** Write the blocks SYNC would write into this delta file instead of the destination ("-": stdout). */
  writeDelta?: string;
}

export interface ApplyDeltaOptions extends Omit<ConnectionOptions, 'hash' | 'bufferKiB' | 'chunkKiB' | 'zlevel'> {
  /** The delta file, or the chain of them in order ("-": standard input). */
  applyDelta: string | readonly string[];
  /** Write even where the device holds neither an entry's before nor its after state. */
  force?: boolean;
  /** Save the old contents of every overwritten block into this undo file. */
  undo?: string;
}

/** SYNC: send only the blocks that differ. */
export function sync(options: SyncOptions): Promise<JsonReport> {
  return execute('sync', options);
}

/** COPY: send every block. */
export function copy(options: TransferOptions): Promise<JsonReport> {
  return execute('copy', options);
}

/**
 * Applies delta files (verified first: a wrong base or order rejects with a SyncError
 * and writes nothing) to `local` (this machine) or `remote` (through the agent).
 */
export function applyDelta(options: ApplyDeltaOptions): Promise<JsonReport> {
  return execute('applyDelta', options);
}

/** Compares both devices; resolves with `ok` false (not a rejection) when they differ. */
export function recheck(options: ConnectionOptions & { local: string; remote: string }): Promise<JsonReport> {
  return execute('recheck', options);
}

/** Runs one call; whatever is wrong with the options rejects (never throws) with a UsageError. */
async function execute(call: LibraryCall, raw: unknown): Promise<JsonReport> {
  const { options, hooks } = libraryOptions(call, raw);
  const differences: { offset: number; length: number }[] = [];
  const log: EngineLog = {
    verbose: (line) => hooks.onLog?.(line),
    debug: () => undefined,
    debugEnabled: false,
  };
  const result: RunResult = await run(options, {
    signal: hooks.signal,
    log,
    progress: hooks.onProgress !== undefined ? progressEvents(hooks.onProgress) : undefined,
    onDifference: options.dryRun ? (offset, length) => differences.push({ offset, length }) : undefined,
    spelling: LIBRARY,
  });
  differences.sort((a, b) => a.offset - b.offset);
  const dryRun = dryRunFailure(options, result);
  const recheckError = recheckFailure(result.recheck);
  if (recheckError !== undefined && call !== 'recheck') throw recheckError;
  const exitCode = dryRun !== undefined || recheckError !== undefined ? 2 : 0;
  return jsonReport(options, result, { exitCode, differences });
}

/** Progress as events: the --json progress lines, parsed back into objects. */
function progressEvents(listener: (event: ProgressLine) => void): ProgressListener {
  return new ProgressPrinter({ write: (text) => listener(JSON.parse(text) as ProgressLine) }, undefined, true);
}
