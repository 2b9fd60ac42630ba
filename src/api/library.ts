/**
 * The library API: `sync`, `copy` and `recheck` with typed options that mirror the
 * command line. Options are checked by the same rules as the command line (they are
 * turned into its arguments and parsed), so a program and a shell script get the
 * same errors. Failures throw the typed errors of errors.ts.
 */
import { dryRunFailure, recheckFailure, run, type RunResult } from './run.js';
import { parseOptions, type Options } from '../cli/options.js';
import type { EngineLog, ProgressListener } from '../engine/engine-context.js';
import { jsonReport, type JsonReport } from '../report/json-report.js';
import { ProgressPrinter, type ProgressLine } from '../report/progress-printer.js';

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
  rsh?: string | string[];
  remoteNode?: string;
  sudo?: boolean;
  /** SHA1 (default), SHA224, SHA256, SHA384, SHA512, BLAKE2B, BLAKE2S, MD5, XXH128, BLAKE3. */
  hash?: string;
  /** Block size in KiB (default 2048). */
  bufferKiB?: number;
  /** Chunk size in KiB for the finer comparison. */
  chunkKiB?: number;
  /** zlib level 0-9 (default 9). */
  zlevel?: number;
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
}

export interface SyncOptions extends TransferOptions {
  bitmap?: string;
  resetBitmap?: boolean;
  updateBitmap?: boolean;
  /** Spot-check the bitmap against the destination (default true). */
  bitmapCheck?: boolean;
  /** Compare, write nothing; the result lists the differences (and `ok` is false if any). */
  dryRun?: boolean;
}

/** SYNC: send only the blocks that differ. */
export function sync(options: SyncOptions): Promise<JsonReport> {
  const argv = [...connectionArgs(options), '--action', options.action, '--mode', 'SYNC'];
  if (options.recheck === true) argv.push('--recheck');
  if (options.create === true) argv.push('--create');
  if (options.bitmap !== undefined) argv.push('--bitmap', options.bitmap);
  if (options.resetBitmap === true) argv.push('--reset-bitmap');
  if (options.updateBitmap === true) argv.push('--update-bitmap');
  if (options.bitmapCheck === false) argv.push('--no-bitmap-check');
  if (options.dryRun === true) argv.push('--dry-run');
  return execute(argv, options);
}

/** COPY: send every block. */
export function copy(options: TransferOptions): Promise<JsonReport> {
  const argv = [...connectionArgs(options), '--action', options.action, '--mode', 'COPY'];
  if (options.recheck === true) argv.push('--recheck');
  if (options.create === true) argv.push('--create');
  return execute(argv, options);
}

/** Compares both devices; resolves with `ok` false (not a rejection) when they differ. */
export function recheck(options: ConnectionOptions & { local: string; remote: string }): Promise<JsonReport> {
  return execute([...connectionArgs(options), '--recheck'], options, { differenceIsResult: true });
}

function connectionArgs(o: ConnectionOptions): string[] {
  const argv: string[] = [];
  const add = (name: string, value: string | number | undefined): void => {
    if (value !== undefined) argv.push(`--${name}`, String(value));
  };
  add('local', o.local);
  add('remote', o.remote);
  add('host', o.host);
  add('port', o.port);
  add('user', o.user);
  if (o.rsh !== undefined) {
    const words = typeof o.rsh === 'string' ? o.rsh : o.rsh.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
    add('rsh', words);
  }
  add('remote-node', o.remoteNode);
  if (o.sudo === true) argv.push('--sudo');
  add('hash', o.hash);
  add('buffer', o.bufferKiB);
  add('chunk', o.chunkKiB);
  add('zlevel', o.zlevel);
  return argv;
}

async function execute(argv: string[], o: ConnectionOptions, mode: { differenceIsResult?: boolean } = {}): Promise<JsonReport> {
  const options: Options = parseOptions(argv);
  const differences: { offset: number; length: number }[] = [];
  const log: EngineLog = {
    verbose: (line) => o.onLog?.(line),
    debug: () => undefined,
    debugEnabled: false,
  };
  const result: RunResult = await run(options, {
    signal: o.signal,
    log,
    progress: o.onProgress !== undefined ? progressEvents(o.onProgress) : undefined,
    onDifference: options.dryRun ? (offset, length) => differences.push({ offset, length }) : undefined,
  });
  differences.sort((a, b) => a.offset - b.offset);
  const dryRun = dryRunFailure(options, result);
  const recheckError = recheckFailure(result.recheck);
  if (recheckError !== undefined && mode.differenceIsResult !== true) throw recheckError;
  const exitCode = dryRun !== undefined || recheckError !== undefined ? 2 : 0;
  return jsonReport(options, result, { exitCode, differences });
}

/** Progress as events: the --json progress lines, parsed back into objects. */
function progressEvents(listener: (event: ProgressLine) => void): ProgressListener {
  return new ProgressPrinter({ write: (text) => listener(JSON.parse(text) as ProgressLine) }, undefined, true);
}
