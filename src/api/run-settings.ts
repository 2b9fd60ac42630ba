/**
 * What a run is given (RunSettings: the resolved options; RunHooks: where it reports)
 * and what it returns (RunResult). Apart from run.ts so that the runs beside it
 * (write-delta-run.ts, apply-delta-run.ts) and the reports can name them without
 * importing the composition root.
 */
import type { Action, Mode } from '../options/options.js';
import type { CodecUse } from '../protocol/codec-policy.js';
import type { IoCounters } from '../device/device.js';
import type { EngineLog, ProgressListener } from '../engine/engine-context.js';
import type { RecheckResult } from '../engine/recheck.js';
import type { TransferCounters } from '../engine/transfer-counters.js';
import type { HashAlgorithm } from '../hash/hash-algorithms.js';
import type { DeltaFigures, DeltaReport } from '../delta/delta-writer.js';
import type { Spelling } from '../options/option-spelling.js';

export interface RunSettings {
  local?: string;
  remote?: string;
  host?: string;
  port?: number;
  user?: string;
  /** The ssh program and its options, already split into words (-e/--rsh). */
  rsh?: readonly string[];
  remoteNode?: string;
  sudo?: boolean;
  action?: Action;
  mode?: Mode;
  recheck: boolean;
  hash: HashAlgorithm;
  /** `hash` was chosen by --hash=auto (said so in --debug). */
  hashAuto?: boolean;
  bufferSize: number;
  chunkSize?: number;
  compress?: 'auto' | 'zstd' | 'zlib' | 'none';
  zlevel?: number;
  /** Wire bytes per second (--bwlimit). */
  bwlimit?: number;
  bitmap?: string;
  resetBitmap?: boolean;
  updateBitmap?: boolean;
  /** Spot-check the bitmap against the destination before trusting it (default true). */
  bitmapCheck?: boolean;
  /** Compare like SYNC, write nothing (neither the destination nor the bitmap). */
  dryRun?: boolean;
  /** Create or extend a destination image file to the source size. */
  create?: boolean;
  /** Write what SYNC would write into this delta file instead ("-": stdout); src/delta/. */
  writeDelta?: string;
  /** Apply these delta files, in order, to the one device given; src/delta/. */
  applyDelta?: readonly string[];
  /** Apply even where the device holds neither the before nor the after state. */
  force?: boolean;
  /** Save the old contents of every block the run overwrites into this undo file. */
  undo?: string;
  /** With local "-": the source is standard input and holds exactly this many bytes. */
  size?: number;
}

export interface RunHooks {
  progress?: ProgressListener;
  log?: EngineLog;
  signal?: AbortSignal;
  /** Each stderr line of the agent (or of ssh). */
  onAgentStderr?: (line: string) => void;
  /** Each block or chunk that differs (a dry run's report; also called in real runs). */
  onDifference?: (offset: number, length: number) => void;
  /** Extra environment for an agent started on this machine (tests). */
  agentEnv?: NodeJS.ProcessEnv;
  /** How the caller names the options, for the usage errors run() finds (default: the command line's). */
  spelling?: Spelling;
}

export interface RunResult {
  /** Bytes compared or copied: the source size (or the smaller device without an action). */
  size: number;
  localSize?: number;
  remoteSize?: number;
  counters: TransferCounters;
  recheck?: RecheckResult;
  /** Destination blocks read to check the bitmap belongs to the destination. */
  bitmapSpotChecks?: number;
  /**
   * Bytes received from and sent to the agent during the action (or the recheck
   * alone); with no agent (a local run), the data written to the destination.
   */
  traffic: { rx: number; tx: number };
  /** Seconds the action (or the recheck alone) took. */
  seconds: number;
  io: { local?: IoCounters; remote?: IoCounters };
  /** The delta written or applied (--write-delta, --apply-delta). */
  delta?: DeltaReport;
  /** The undo file written (--undo). */
  undo?: DeltaFigures;
  /**
   * What each codec carried over the link: blocks this end sent (by codec and level)
   * and blocks it received (by codec: the agent chose the levels). Empty without an agent.
   */
  codecs: { sent: Record<string, CodecUse>; received: Record<string, CodecUse> };
}
