/**
 * S9-delta (issue 12): an image with 1% of its 2 MiB blocks rewritten with random
 * (incompressible) bytes. S9-make times a delta made against a bitmap (the source
 * alone is read) and checks its size against the changed bytes; S9-apply times its
 * verified apply to the destination; S9-bitmap-sync is S5's bitmap SYNC of the very
 * same change, for comparison. All local, SHA1.
 */
import { copyFile, open, rm, stat } from 'node:fs/promises';
import { applyBlockChanges, changedBlockCount, chooseBlockChanges, undoBlockChanges, type BlockChanges } from './images.js';
import { informative, type Judge } from './targets.js';
import { failureOf, timeBasyn } from './timed-run.js';
import type { ImagePair, Workspace } from './workspace.js';
import type { Scenario } from './scenarios.js';

const BLOCK = 2 * 1024 * 1024;
const FRACTION = 0.01;
/** The delta may be at most this much larger than the changed bytes (issue 12). */
const SIZE_LIMIT = 1.02;

interface S9Setup {
  pair: ImagePair;
  changes: BlockChanges;
  bitmap: string;
  /** The bitmap of the source before the change: each run starts from it. */
  baseBitmap: string;
  /** The original contents of the changed blocks (a sparse file): resets the destination. */
  original: string;
  delta: string;
}

let setup: Promise<S9Setup> | undefined;
let deltaSize: number | undefined;

function s9(workspace: Workspace, size: number): Promise<S9Setup> {
  setup ??= (async () => {
    const pair = await workspace.identicalRandomPair(size, 9);
    const changes = chooseBlockChanges(size, BLOCK, FRACTION, BLOCK, 91);
    const s: S9Setup = {
      pair, changes,
      bitmap: workspace.path('S9.bitmap'),
      baseBitmap: workspace.path('S9.bitmap.base'),
      original: workspace.path('S9.original'),
      delta: workspace.path('S9.delta'),
    };
    await rm(s.bitmap, { force: true });
    const made = await timeBasyn(['-l', pair.source, '-b', s.bitmap, '-a', 'PUSH', '-m', 'SYNC', '--hash=SHA1'], { agentRoots: [], timeoutMs: 600_000 });
    const failure = failureOf(made);
    if (failure !== undefined) throw new Error(`the untimed run that creates the bitmap failed: ${failure}`);
    await copyFile(s.bitmap, s.baseBitmap);
    const original = await open(s.original, 'w');
    await original.truncate(size);
    await original.close();
    await undoBlockChanges(pair.source, s.original, changes);
    await applyBlockChanges(pair.source, changes, 92);
    return s;
  })();
  return setup;
}

const changedBytes = (size: number): number => changedBlockCount(size, BLOCK, FRACTION) * BLOCK;

const deltaSizeJudge: Judge = (input) => {
  const changed = changedBytes(input.size);
  const base = informative(input);
  if (deltaSize === undefined) return { ...base, target: `delta <= ${SIZE_LIMIT} x changed bytes`, pass: undefined };
  const ratio = deltaSize / changed;
  return {
    reference: `changed ${changed} B, delta file ${deltaSize} B`,
    ratio,
    ratioOf: 'delta size / changed bytes',
    target: `<= ${SIZE_LIMIT}`,
    pass: ratio <= SIZE_LIMIT,
    detail: base.detail,
  };
};

export const DELTA_SCENARIOS: readonly Scenario[] = [
  {
    id: 'S9-make', group: 'S9', title: 'delta against a bitmap, 1% of blocks changed (random), local, SHA1',
    bytes: (size) => size,
    ceiling: 'digest:SHA1',
    async plan(workspace, size) {
      const s = await s9(workspace, size);
      return {
        args: ['-l', s.pair.source, '-b', s.bitmap, '-a', 'PUSH', '-m', 'SYNC', '--hash=SHA1', `--write-delta=${s.delta}`],
        agentRoots: [],
        beforeEachRun: async () => {
          await copyFile(s.baseBitmap, s.bitmap);
          await rm(s.delta, { force: true });
        },
        afterRuns: async () => {
          deltaSize = (await stat(s.delta)).size;
        },
      };
    },
    judge: deltaSizeJudge,
  },
  {
    id: 'S9-apply', group: 'S9', title: 'apply that delta (verify, write, flush), local',
    bytes: (size) => changedBytes(size),
    async plan(workspace, size) {
      const s = await s9(workspace, size);
      return {
        args: [`--apply-delta=${s.delta}`, '-l', s.pair.destination],
        agentRoots: [],
        beforeEachRun: () => undoBlockChanges(s.original, s.pair.destination, s.changes),
      };
    },
    judge: informative,
  },
  {
    id: 'S9-bitmap-sync', group: 'S9', title: 'bitmap SYNC of the same change (S5 with 1% changed), local, SHA1',
    bytes: (size) => size,
    ceiling: 'digest:SHA1',
    async plan(workspace, size) {
      const s = await s9(workspace, size);
      return {
        args: ['-l', s.pair.source, '-r', s.pair.destination, '-b', s.bitmap, '-a', 'PUSH', '-m', 'SYNC', '--hash=SHA1'],
        agentRoots: [],
        beforeEachRun: async () => {
          await copyFile(s.baseBitmap, s.bitmap);
          await undoBlockChanges(s.original, s.pair.destination, s.changes);
        },
      };
    },
    judge: informative,
  },
];
