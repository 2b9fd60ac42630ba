/**
 * The --json document: one object with the outcome and every figure of the run.
 * The schema is documented in README.md ("JSON output") and versioned by
 * `schema`; fields are only ever added.
 */
import { errorTypeOf } from '../cli/exit-codes.js';
import { BasynError } from '../errors.js';
import type { RunResult } from '../api/run-settings.js';
import { destinationSide, isBitmapOnly, type Options } from '../options/options.js';
import { compressRequestOf } from '../options/compress-request.js';
import type { CodecUse } from '../protocol/codec-policy.js';
import { VERSION } from '../version.js';

export const JSON_SCHEMA_VERSION = 1;

export interface JsonError {
  type: string;
  message: string;
  side: 'local' | 'remote' | null;
  device: string | null;
  operation: string | null;
  offset: number | null;
}

export interface JsonReport {
  schema: number;
  basyn: string;
  ok: boolean;
  exitCode: number;
  action: 'PUSH' | 'PULL' | null;
  mode: 'SYNC' | 'COPY' | null;
  dryRun: boolean;
  /** The device the action wrote (would write, in a dry run); null without an action or in a bitmap-only run. */
  destination: 'local' | 'remote' | null;
  /** A bitmap run without its destination: no device was written, the bitmap now describes the source. */
  bitmapOnly: boolean;
  hash: string;
  bufferSize: number;
  chunkSize: number | null;
  /** --compress as the run took it: auto, zstd, zlib or none. */
  compress: string;
  /** The level of zstd or zlib asked for; null with auto and none. */
  zlevel: number | null;
  host: string | null;
  /** Bytes compared or copied. */
  size: number | null;
  local: { path: string | null; size: number | null; bytesRead: number | null; bytesWritten: number | null };
  remote: { path: string | null; size: number | null; bytesRead: number | null; bytesWritten: number | null };
  blocks: { compared: number; differing: number };
  chunks: { differing: number };
  /** Blocks or chunks written to the destination (would be, in a dry run), and their bytes. */
  writes: number;
  bytesSent: number;
  wire: { rx: number; tx: number; total: number };
  /** Blocks, device bytes and payload bytes each codec carried (see RunResult.codecs). */
  codecs: { sent: Record<string, CodecUse>; received: Record<string, CodecUse> };
  seconds: number;
  bandwidth: { realKiBps: number; effectiveKiBps: number };
  recheck: { compared: number; differing: number; firstDifference: number | null } | null;
  bitmap: { path: string; spotChecks: number | null } | null;
  /** Dry run only: every differing block or chunk. */
  differences: { offset: number; length: number }[] | null;
  error: JsonError | null;
  /** --write-delta and --apply-delta: the delta's entries, data bytes and file size (several files: sums). */
  delta: { operation: 'write' | 'apply'; path: string; entries: number; dataBytes: number; fileSize: number; skipped: number | null } | null;
  /** --undo: the undo file's entries, data bytes and size. */
  undo: { path: string; entries: number; dataBytes: number; fileSize: number } | null;
}

export function jsonError(error: unknown): JsonError {
  if (error instanceof BasynError) {
    const c = error.context;
    return {
      type: errorTypeOf(error),
      message: error.message,
      side: c.side ?? null,
      device: c.device ?? null,
      operation: c.operation ?? null,
      offset: c.offset ?? null,
    };
  }
  return { type: errorTypeOf(error), message: error instanceof Error ? error.message : String(error), side: null, device: null, operation: null, offset: null };
}

/** The settings the report shows (what the command line and the library both pass). */
export type ReportedSettings = Pick<Options, 'action' | 'mode' | 'hash' | 'bufferSize' | 'chunkSize' | 'compress' | 'zlevel' | 'host' | 'local' | 'remote' | 'bitmap'> &
  Partial<Pick<Options, 'dryRun' | 'writeDelta'>>;

export function jsonReport(
  settings: ReportedSettings,
  result: RunResult | undefined,
  outcome: { exitCode: number; error?: unknown; differences?: { offset: number; length: number }[] },
): JsonReport {
  const seconds = result?.seconds ?? 0;
  const rx = result?.traffic.rx ?? 0;
  const tx = result?.traffic.tx ?? 0;
  const size = result?.size ?? null;
  const per = (bytes: number): number => (seconds > 0 ? Math.round((100 * bytes) / 1024 / seconds) / 100 : 0);
  const c = result?.counters;
  return {
    schema: JSON_SCHEMA_VERSION,
    basyn: VERSION,
    ok: outcome.exitCode === 0,
    exitCode: outcome.exitCode,
    action: settings.action ?? null,
    mode: settings.mode ?? null,
    dryRun: settings.dryRun === true,
    destination: destinationSide(settings) ?? null,
    bitmapOnly: isBitmapOnly(settings),
    hash: settings.hash.name,
    bufferSize: settings.bufferSize,
    chunkSize: settings.chunkSize ?? null,
    compress: compressRequestOf(settings).compress,
    zlevel: ['zstd', 'zlib'].includes(compressRequestOf(settings).compress) ? compressRequestOf(settings).level : null,
    host: settings.host ?? null,
    size,
    local: {
      path: settings.local ?? null,
      size: result?.localSize ?? null,
      bytesRead: result?.io.local?.bytesRead ?? null,
      bytesWritten: result?.io.local?.bytesWritten ?? null,
    },
    remote: {
      path: settings.remote ?? null,
      size: result?.remoteSize ?? null,
      bytesRead: result?.io.remote?.bytesRead ?? null,
      bytesWritten: result?.io.remote?.bytesWritten ?? null,
    },
    blocks: { compared: c?.blocksCompared ?? 0, differing: c?.blocksDiffering ?? 0 },
    chunks: { differing: c?.chunksDiffering ?? 0 },
    writes: c?.writes ?? 0,
    bytesSent: c?.bytesWritten ?? 0,
    wire: { rx, tx, total: rx + tx },
    codecs: result?.codecs ?? { sent: {}, received: {} },
    seconds: Math.round(seconds * 1000) / 1000,
    bandwidth: { realKiBps: per(rx + tx), effectiveKiBps: size !== null ? per(size) : 0 },
    recheck: result?.recheck !== undefined
      ? { compared: result.recheck.blocksCompared, differing: result.recheck.blocksDiffering, firstDifference: result.recheck.firstDifference ?? null }
      : null,
    bitmap: settings.bitmap !== undefined ? { path: settings.bitmap, spotChecks: result?.bitmapSpotChecks ?? null } : null,
    differences: settings.dryRun === true ? (outcome.differences ?? []) : null,
    error: outcome.error !== undefined ? jsonError(outcome.error) : null,
    delta: result?.delta !== undefined ? { ...result.delta, skipped: result.delta.skipped ?? null } : null,
    undo: result?.undo !== undefined ? { ...result.undo } : null,
  };
}
