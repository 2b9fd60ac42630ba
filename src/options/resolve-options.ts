/**
 * The step both callers end with: the values they read (each already checked by its
 * kind), defaults for the rest, then the rules between options.
 */
import { AUTO_HASH, autoHash, type RunShapeForHash } from '../hash/auto-hash.js';
import { checkOptionRules } from './option-rules.js';
import { OPTION_SCHEMA } from './option-schema.js';
import type { Spelling } from './option-spelling.js';
import type { OptionKey, Options } from './options.js';

export function resolveOptions(given: ReadonlyMap<OptionKey, unknown>, spelling: Spelling): Options {
  const values: Partial<Record<OptionKey, unknown>> = {};
  for (const entry of OPTION_SCHEMA) {
    const value = given.has(entry.key) ? given.get(entry.key) : entry.default;
    if (value !== undefined) values[entry.key] = value;
  }
  if (values.hash === AUTO_HASH) {
    values.hash = autoHash(values as RunShapeForHash).hash;
    values.hashAuto = true;
  }
  // Every key of Options has its entry, and each kind makes its field's type.
  const options = values as unknown as Options;
  // --help, --version and --completion answer whatever else the command line says.
  if (!options.help && !options.version && options.completion === undefined) checkOptionRules(options, spelling);
  return options;
}
