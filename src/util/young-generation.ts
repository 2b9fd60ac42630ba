/**
 * Keeps V8's young generation at its first size (1 MiB a semi-space) in the command.
 *
 * V8 doubles the young generation each time as many bytes as it holds have survived
 * it, up to 16 MiB a semi-space (32 MiB on node 24), and a long run always gets there
 * in the end: a 1 GiB COPY over ssh at --bwlimit=20M ended 16 MiB higher than a short
 * one. basyn's young objects are messages and promises (block data lives outside the
 * V8 heap), so the first size is enough. The agent starts with --max-semi-space-size=1
 * for the same reason, but that flag is read only when the process starts; the command
 * is started by whoever runs it. --semi-space-growth-factor is read at each growth, so
 * setting it to 1 at run time does the same, with one catch: node 18 to 22 set it back
 * to V8's minimum of 2 whenever a new isolate is configured, that is each time a worker
 * thread starts. So it is set again once each worker is online (util/quiet-worker.ts).
 *
 * Only the command turns this on; a program that uses the library keeps its own heap.
 */
import { setFlagsFromString } from 'node:v8';

let kept = false;

function apply(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** From now on, for the rest of the process. */
export function keepYoungGenerationSmall(): void {
  kept = true;
  apply();
}

/** A new isolate has just been configured (a worker thread is online): undo its reset. */
export function afterNewIsolate(): void {
  if (kept) apply();
}
