/**
 * What every engine operation is given besides its devices: how to hash, how big a
 * block is, where to report progress and log lines, and when to stop. The engine
 * never prints, never reads argv and never knows whether a device is behind ssh.
 */
import type { DigestFunction, HashAlgorithm } from '../hash/hash-algorithms.js';

export interface ProgressListener {
  /** A phase begins ("SYNC", "COPY", "RECHECK") over `total` bytes. */
  start(phase: string, total: number): void;
  /** `done` bytes of the phase are processed. */
  update(done: number): void;
  end(): void;
}

export interface EngineLog {
  /** A line for --verbose. */
  verbose(message: string): void;
  /** A line for --debug (per-block detail). */
  debug(message: string): void;
  readonly debugEnabled: boolean;
}

export interface EngineContext {
  /** Bytes compared or copied, from offset 0. */
  size: number;
  blockSize: number;
  /** Finer comparison unit for differing blocks (--chunk); undefined: whole blocks. */
  chunkSize?: number;
  digest: DigestFunction;
  /** The algorithm of `digest`: blocks longer than a piece are hashed a piece at a time with it. */
  hash?: HashAlgorithm;
  /** Threads a side may hash on when it hashes alone (bitmap SYNC); default 1. */
  hashThreads?: number;
  signal: AbortSignal;
  progress: ProgressListener;
  log: EngineLog;
  /** --dry-run: find what differs, move and write nothing. */
  dryRun?: boolean;
  /** Told of each differing block or chunk (the unit a real run would send). */
  onDifference?: (offset: number, length: number) => void;
}

export const silentProgress: ProgressListener = { start() {}, update() {}, end() {} };
export const silentLog: EngineLog = { verbose() {}, debug() {}, debugEnabled: false };
