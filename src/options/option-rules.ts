/**
 * The rules that tie options together, checked once every option has its value,
 * for the command line and the library alike. Each rule names the options in the
 * caller's spelling. README.md ("Usage errors") lists every rule's text; a test
 * holds the two together.
 */
import { UsageError } from '../errors.js';
import { sshPortAndUserIn } from '../transport/ssh-command-words.js';
import { isBitmapOnly, type OptionKey, type Options } from './options.js';
import type { Spelling } from './option-spelling.js';
import { quoteName } from '../report/quote.js';

export interface OptionRule {
  /** True when the options break the rule. */
  broken(o: Options): boolean;
  /** What is wrong, without the values of this run: the text README.md lists. */
  says(s: Spelling): string;
  /** This run's values, shown after the text in parentheses. */
  detail?(s: Spelling, o: Options): string;
}

const given = (o: Options, key: OptionKey): boolean => o[key] !== undefined && o[key] !== false;

/** Options that are about the remote device: without -r there is none. */
const REMOTE_ONLY: readonly OptionKey[] = ['host', 'port', 'user', 'rsh', 'sudo', 'remoteNode'];

const needsRemote = (key: OptionKey): OptionRule => ({
  // Only reachable in a bitmap-only PUSH: every other run without -r is refused as missing -r.
  broken: (o) => given(o, key) && o.remote === undefined,
  says: (s) => `${s.name(key)} is for the remote device, but ${s.name('remote')} is not given: this run would only update the bitmap`,
});

/** The rules of the delta options (src/delta/), checked before the general ones. */
const DELTA_RULES: readonly OptionRule[] = [
  {
    broken: (o) => o.applyDelta !== undefined && (o.action !== undefined || o.mode !== undefined),
    says: (s) => `${s.name('applyDelta')} takes no ${s.name('action')} or ${s.name('mode')}: the delta says what to write`,
  },
  {
    broken: (o) => o.applyDelta !== undefined && (o.local === undefined) === (o.remote === undefined),
    says: (s) => `${s.name('applyDelta')} needs one device: ${s.name('local')} on this machine, or ${s.name('remote')} (with ${s.name('host')})`,
  },
  {
    broken: (o) => o.applyDelta !== undefined && (o.bitmap !== undefined || o.recheck || o.dryRun || o.create || o.writeDelta !== undefined),
    says: (s) => `${s.name('applyDelta')} can't be combined with ${s.name('bitmap')}, ${s.flag('recheck')}, ${s.flag('dryRun')}, ${s.flag('create')} or ${s.name('writeDelta')}`,
  },
  {
    broken: (o) => o.applyDelta !== undefined && o.applyDelta.filter((f) => f === '-').length > 1,
    says: (s) => `${s.name('applyDelta')} can read standard input ("-") once`,
  },
  {
    broken: (o) => o.undo !== undefined && o.applyDelta === undefined && (o.action === undefined || o.dryRun || o.writeDelta !== undefined || isBitmapOnly(o)),
    says: (s) => `${s.name('undo')} needs a run that writes a destination: ${s.name('action')} with a destination, or ${s.name('applyDelta')}`,
  },
  { broken: (o) => o.undo === '-', says: (s) => `${s.name('undo')} needs a file (not "-": it is written on the destination's machine, in place)` },
  { broken: (o) => o.local === '-' && o.size === undefined, says: (s) => `${s.name('local')} - (standard input) needs ${s.name('size')}` },
  { broken: (o) => o.size !== undefined && o.local !== '-', says: (s) => `${s.name('size')} is for a source on standard input (${s.name('local')} -)` },
  {
    broken: (o) => o.local === '-' && (o.action !== 'PUSH' || o.applyDelta !== undefined),
    says: (s) => `${s.name('local')} - reads standard input as the source: it needs ${s.name('action')} PUSH`,
  },
  {
    broken: (o) => o.local === '-' && (o.chunkSize !== undefined || o.recheck || o.updateBitmap),
    says: (s) => `${s.name('local')} - is read once: ${s.name('chunkSize')}, ${s.flag('recheck')} and ${s.flag('updateBitmap')} would read it again`,
  },
  { broken: (o) => o.force && o.applyDelta === undefined, says: (s) => `${s.flag('force')} needs ${s.name('applyDelta')}` },
  { broken: (o) => o.writeDelta !== undefined && o.mode !== 'SYNC', says: (s) => `${s.name('writeDelta')} needs ${s.name('mode')} SYNC` },
  {
    broken: (o) => o.writeDelta !== undefined && (o.dryRun || o.recheck || o.create || o.updateBitmap),
    says: (s) => `${s.name('writeDelta')} writes no destination: it can't be combined with ${s.flag('dryRun')}, ${s.flag('recheck')}, ${s.flag('create')} or ${s.flag('updateBitmap')}`,
  },
  {
    broken: (o) => o.writeDelta !== undefined && o.bitmap !== undefined && (o.action === 'PUSH' ? o.remote : o.local) !== undefined,
    says: (s) => `${s.name('writeDelta')} with ${s.name('bitmap')} reads no destination: leave out ${s.name('remote')} (PUSH) or ${s.name('local')} (PULL)`,
  },
];

export const OPTION_RULES: readonly OptionRule[] = [
  ...DELTA_RULES,
  { broken: (o) => o.mode !== undefined && o.action === undefined, says: (s) => `${s.name('mode')} needs ${s.name('action')}` },
  {
    broken: (o) => o.action !== undefined && o.mode === undefined,
    says: (s) => `${s.name('action')} needs ${s.name('mode')} (SYNC or COPY)`,
  },
  {
    broken: (o) => o.local === undefined && o.applyDelta === undefined && (o.bitmap === undefined || o.action === 'PUSH'),
    says: (s) => `${s.name('local')} is required`,
  },
  {
    broken: (o) => o.remote === undefined && o.applyDelta === undefined && (o.bitmap === undefined || o.action === 'PULL'),
    says: (s) => `${s.name('remote')} is required`,
  },
  ...REMOTE_ONLY.map(needsRemote),
  { broken: (o) => o.user !== undefined && o.host === undefined, says: (s) => `${s.name('user')} needs ${s.name('host')}` },
  { broken: (o) => o.port !== undefined && o.host === undefined, says: (s) => `${s.name('port')} needs ${s.name('host')}` },
  { broken: (o) => o.rsh !== undefined && o.host === undefined, says: (s) => `${s.name('rsh')} needs ${s.name('host')}` },
  {
    // ssh keeps the first port it is given, and the words of -e come before basyn's -p.
    broken: (o) => o.port !== undefined && o.rsh !== undefined && sshPortAndUserIn(o.rsh).port !== undefined,
    says: (s) => `${s.name('port')} can't be combined with a port inside ${s.name('rsh')}; give the port once`,
    detail: (s, o) => `${s.name('rsh')} has ${quoteName(sshPortAndUserIn(o.rsh!).port!)}`,
  },
  {
    // ssh takes the user of -l before the one of USER@HOST: the two would silently disagree.
    broken: (o) => o.host?.includes('@') === true && (o.user !== undefined || (o.rsh !== undefined && sshPortAndUserIn(o.rsh).user !== undefined)),
    says: (s) => `${s.name('host')} USER@HOST can't be combined with ${s.name('user')} or a user inside ${s.name('rsh')}; give the user once`,
  },
  {
    broken: (o) => o.user !== undefined && o.rsh !== undefined && sshPortAndUserIn(o.rsh).user !== undefined,
    says: (s) => `${s.name('user')} can't be combined with a user inside ${s.name('rsh')}; give the user once`,
    detail: (s, o) => `${s.name('rsh')} has ${quoteName(sshPortAndUserIn(o.rsh!).user!)}`,
  },
  {
    broken: (o) => o.chunkSize !== undefined && o.chunkSize > o.bufferSize,
    says: (s) => `${s.name('chunkSize')} can't be larger than ${s.name('bufferSize')}`,
    detail: (s, o) => `${s.kib(o.chunkSize!)} > ${s.kib(o.bufferSize)}`,
  },
  {
    broken: (o) => o.zlevel !== undefined && (o.compress === 'auto' || o.compress === 'none'),
    says: (s) => `${s.name('zlevel')} needs ${s.name('compress')} zstd or zlib (auto chooses its levels, none has none)`,
  },
  {
    broken: (o) => o.zlevel !== undefined && (o.compress ?? 'zlib') === 'zlib' && o.zlevel > 9,
    says: (s) => `${s.name('zlevel')} must be 0 to 9 with zlib (the codec without ${s.name('compress')})`,
    detail: (s, o) => `${s.name('zlevel')} ${o.zlevel}`,
  },
  {
    broken: (o) => o.zlevel !== undefined && o.compress === 'zstd' && o.zlevel < 1,
    says: (s) => `${s.name('zlevel')} must be 1 to 19 with zstd`,
    detail: (s, o) => `${s.name('zlevel')} ${o.zlevel}`,
  },
  { broken: (o) => o.bitmap !== undefined && o.mode !== 'SYNC', says: (s) => `${s.name('bitmap')} needs ${s.name('mode')} SYNC` },
  { broken: (o) => o.resetBitmap && o.bitmap === undefined, says: (s) => `${s.flag('resetBitmap')} needs ${s.name('bitmap')}` },
  { broken: (o) => o.updateBitmap && o.bitmap === undefined, says: (s) => `${s.flag('updateBitmap')} needs ${s.name('bitmap')}` },
  { broken: (o) => !o.bitmapCheck && o.bitmap === undefined, says: (s) => `${s.flag('bitmapCheck')} needs ${s.name('bitmap')}` },
  {
    broken: (o) => o.resetBitmap && o.updateBitmap,
    says: (s) => `${s.flag('resetBitmap')} and ${s.flag('updateBitmap')} can't be used together`,
  },
  { broken: (o) => o.dryRun && o.mode !== 'SYNC', says: (s) => `${s.flag('dryRun')} needs ${s.name('mode')} SYNC` },
  {
    broken: (o) => o.dryRun && (o.resetBitmap || o.updateBitmap),
    says: (s) => `${s.flag('dryRun')} can't be combined with ${s.flag('resetBitmap')} or ${s.flag('updateBitmap')}`,
  },
  { broken: (o) => o.create && o.action === undefined, says: (s) => `${s.flag('create')} needs ${s.name('action')}` },
  // A dry run writes nothing, and creating or extending the destination is a write.
  { broken: (o) => o.create && o.dryRun, says: (s) => `${s.flag('dryRun')} can't be combined with ${s.flag('create')}` },
  {
    broken: (o) => o.recheck && (o.local === undefined || o.remote === undefined),
    says: (s) => `${s.flag('recheck')} needs both ${s.name('local')} and ${s.name('remote')}`,
  },
  {
    broken: (o) => o.updateBitmap && (o.local === undefined || o.remote === undefined),
    says: (s) => `${s.flag('updateBitmap')} reads the destination, so it needs both ${s.name('local')} and ${s.name('remote')}`,
  },
];

/** The first rule the options break, as a UsageError in the caller's words. */
export function checkOptionRules(o: Options, s: Spelling): void {
  const rule = OPTION_RULES.find((r) => r.broken(o));
  if (rule === undefined) return;
  const detail = rule.detail?.(s, o);
  throw new UsageError(detail !== undefined ? `${rule.says(s)} (${detail})` : rule.says(s));
}
