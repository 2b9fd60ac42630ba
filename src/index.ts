/**
 * The basyn library. `sync`, `copy` and `recheck` do what the command line does,
 * with the same option rules, an AbortSignal, progress events and a result holding
 * the figures of --json. Errors are the typed errors below.
 */
export { sync, copy, recheck, applyDelta, type ApplyDeltaOptions, type SyncOptions, type TransferOptions, type ConnectionOptions, type BasynResult, type ProgressEvent } from './api/library.js';
export { run, recheckFailure, dryRunFailure, type RunSettings, type RunHooks, type RunResult } from './api/run.js';
export { parseOptions } from './cli/command-line.js';
export type { Options } from './options/options.js';
export * from './errors.js';
export { HASH_ALGORITHMS, hashByName, type HashAlgorithm } from './hash/hash-algorithms.js';
export { VERSION } from './version.js';
