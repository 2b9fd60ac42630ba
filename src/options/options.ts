/**
 * What a run is asked to do, whichever way it was asked (command line or library):
 * every option with its value, defaults filled in. option-schema.ts says how each
 * one is given, option-rules.ts which combinations make sense.
 */
import type { HashAlgorithm } from '../hash/hash-algorithms.js';

export type Action = 'PUSH' | 'PULL';
export type Mode = 'SYNC' | 'COPY';

export interface Options {
  local?: string;
  remote?: string;
  host?: string;
  /** Only set when given, so ssh's own configuration applies otherwise (its default is 22). */
  port?: number;
  user?: string;
  action?: Action;
  mode?: Mode;
  recheck: boolean;
  stat: boolean;
  verbose: boolean;
  progress: boolean;
  debug: boolean;
  /** The digest of the run: --hash, or what --hash=auto (the default) chose for it. */
  hash: HashAlgorithm;
  /** True when `hash` was chosen by --hash=auto rather than named. */
  hashAuto?: boolean;
  /** --buffer, in bytes. */
  bufferSize: number;
  /** --chunk, in bytes; undefined when not given. */
  chunkSize?: number;
  /** --compress; undefined when not given (then auto, or zlib with --zlevel). */
  compress?: 'auto' | 'zstd' | 'zlib' | 'none';
  /** --zlevel; undefined when not given. */
  zlevel?: number;
  /** --bwlimit, in bytes per second; undefined when not given. */
  bwlimit?: number;
  bitmap?: string;
  resetBitmap: boolean;
  updateBitmap: boolean;
  /** Read a few destination blocks to check the bitmap belongs to it (default on). */
  bitmapCheck: boolean;
  /** -e/--rsh: the ssh command, split into words (never through a shell). */
  rsh?: string[];
  /** --remote-node: the node program on the remote host. */
  remoteNode?: string;
  /** --sudo: run the agent through sudo -n. */
  sudo: boolean;
  /** --json: one JSON object on stdout at the end, nothing else there. */
  json: boolean;
  /** --dry-run: compare like SYNC, write nothing. */
  dryRun: boolean;
  /** --create: create or extend a destination image file to the source size. */
  create: boolean;
  /** --write-delta: where the blocks SYNC would write go instead ("-": stdout). */
  writeDelta?: string;
  /** --apply-delta: the delta files to apply, in order ("-": stdin). */
  applyDelta?: string[];
  /** --size: the bytes of a source read from standard input (-l -). */
  size?: number;
  /** --undo: the undo file of a run that writes a destination. */
  undo?: string;
  /** --force: apply where the device holds neither the before nor the after state. */
  force: boolean;
  help: boolean;
  version: boolean;
  /** --completion: print the completion script for this shell. */
  completion?: 'bash';
}

export type OptionKey = keyof Options;

type RunShape = Pick<Options, 'action' | 'local' | 'remote' | 'bitmap'> & Partial<Pick<Options, 'writeDelta'>>;

/**
 * A bitmap run without its destination (-r for PUSH, -l for PULL) writes no device:
 * only the bitmap, which then describes the source. Users must be told, since a
 * later run with the destination trusts that bitmap.
 */
export function isBitmapOnly(o: RunShape): boolean {
  // A delta run with a bitmap has no destination by design: the delta stands for it.
  return o.writeDelta === undefined && o.bitmap !== undefined && o.action !== undefined && (o.action === 'PUSH' ? o.remote : o.local) === undefined;
}

/** The side an action writes, or undefined when no device is written (no action, bitmap only). */
export function destinationSide(o: RunShape): 'local' | 'remote' | undefined {
  // A delta run writes its file instead of any device.
  if (o.action === undefined || isBitmapOnly(o) || o.writeDelta !== undefined) return undefined;
  return o.action === 'PUSH' ? 'remote' : 'local';
}
