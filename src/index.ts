/** The basyn library: run the same operations as the command line from a program. */
export { run, recheckFailure, type RunSettings, type RunHooks, type RunResult } from './api/run.js';
export { parseOptions, type Options } from './cli/options.js';
export * from './errors.js';
export { HASH_ALGORITHMS, hashByName, type HashAlgorithm } from './hash/hash-algorithms.js';
export { VERSION } from './version.js';
