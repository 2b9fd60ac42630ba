/**
 * The command line, as the original tool defines it: option table, parsing and every
 * validation rule. Pure: argv in, Options out, UsageError on anything wrong, so a bad
 * command line can never touch a device.
 */
import { UsageError } from '../errors.js';
import { DEFAULT_HASH, HASH_ALGORITHMS, hashByName, type HashAlgorithm } from '../hash/hash-algorithms.js';
import { splitShellWords } from '../transport/shell-words.js';

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
  hash: HashAlgorithm;
  /** --buffer, in bytes. */
  bufferSize: number;
  /** --chunk, in bytes; undefined when not given. */
  chunkSize?: number;
  zlevel: number;
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
  help: boolean;
  version: boolean;
}

export const DEFAULT_BUFFER_KIB = 2048;
export const MAX_BUFFER_KIB = 1024 * 1024;
export const DEFAULT_ZLEVEL = 9;

interface OptionSpec {
  long: string;
  short?: string;
  value: boolean;
}

export const OPTION_SPECS: readonly OptionSpec[] = [
  { long: 'local', short: 'l', value: true },
  { long: 'remote', short: 'r', value: true },
  { long: 'host', short: 'h', value: true },
  { long: 'port', short: 'p', value: true },
  { long: 'user', short: 'u', value: true },
  { long: 'action', short: 'a', value: true },
  { long: 'mode', short: 'm', value: true },
  { long: 'recheck', value: false },
  { long: 'stat', value: false },
  { long: 'verbose', value: false },
  { long: 'progress', value: false },
  { long: 'debug', value: false },
  { long: 'hash', value: true },
  { long: 'buffer', value: true },
  { long: 'chunk', value: true },
  { long: 'zlevel', value: true },
  { long: 'bitmap', short: 'b', value: true },
  { long: 'reset-bitmap', value: false },
  { long: 'update-bitmap', value: false },
  { long: 'no-bitmap-check', value: false },
  { long: 'rsh', short: 'e', value: true },
  { long: 'remote-node', value: true },
  { long: 'sudo', value: false },
  { long: 'json', value: false },
  { long: 'dry-run', value: false },
  { long: 'create', value: false },
  { long: 'help', value: false },
  { long: 'version', value: false },
];

/** Splits argv into (spec, value) pairs; rejects unknown, repeated and malformed options. */
export function tokenize(argv: readonly string[]): Map<string, string | true> {
  const seen = new Map<string, string | true>();
  const put = (spec: OptionSpec, value: string | true, written: string): void => {
    if (seen.has(spec.long)) throw new UsageError(`option ${written} is given more than once`);
    seen.set(spec.long, value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (i + 1 < argv.length) throw new UsageError(`unexpected argument "${argv[i + 1]}" (basyn takes options only)`);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = OPTION_SPECS.find((s) => s.long === name);
      if (spec === undefined) throw new UsageError(`unknown option --${name}`);
      if (!spec.value) {
        if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
        put(spec, true, `--${name}`);
      } else if (eq >= 0) {
        put(spec, arg.slice(eq + 1), `--${name}`);
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value`);
        put(spec, argv[++i]!, `--${name}`);
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      const letter = arg[1]!;
      const spec = OPTION_SPECS.find((s) => s.short === letter);
      if (spec === undefined) throw new UsageError(`unknown option -${letter}`);
      if (arg.length > 2) {
        put(spec, arg.slice(2), `-${letter}`);
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`option -${letter} needs a value`);
        put(spec, argv[++i]!, `-${letter}`);
      }
      continue;
    }
    throw new UsageError(`unexpected argument "${arg}" (basyn takes options only)`);
  }
  return seen;
}

function integer(text: string, what: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`${what} must be a whole number, got "${text}"`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${what} must be between ${min} and ${max}, got ${text}`);
  return n;
}

function nonEmpty(value: string, what: string): string {
  if (value === '') throw new UsageError(`${what} is empty`);
  return value;
}

export function parseOptions(argv: readonly string[]): Options {
  const t = tokenize(argv);
  const str = (name: string): string | undefined => {
    const v = t.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const flag = (name: string): boolean => t.get(name) === true;

  const options: Options = {
    recheck: flag('recheck'),
    stat: flag('stat'),
    verbose: flag('verbose'),
    progress: flag('progress'),
    debug: flag('debug'),
    hash: hashByName(DEFAULT_HASH)!,
    bufferSize: DEFAULT_BUFFER_KIB * 1024,
    zlevel: DEFAULT_ZLEVEL,
    resetBitmap: flag('reset-bitmap'),
    updateBitmap: flag('update-bitmap'),
    bitmapCheck: !flag('no-bitmap-check'),
    sudo: flag('sudo'),
    json: flag('json'),
    dryRun: flag('dry-run'),
    create: flag('create'),
    help: flag('help'),
    version: flag('version'),
  };
  if (options.help || options.version) return options;

  const local = str('local');
  if (local !== undefined) options.local = nonEmpty(local, '-l/--local');
  const remote = str('remote');
  if (remote !== undefined) options.remote = nonEmpty(remote, '-r/--remote');
  const host = str('host');
  if (host !== undefined) {
    options.host = nonEmpty(host, '-h/--host');
    if (host.startsWith('-')) throw new UsageError(`-h/--host "${host}" begins with "-"; refusing it so it cannot become an ssh option`);
    if (/[\s\0]/.test(host)) throw new UsageError(`-h/--host "${host}" contains white space`);
  }
  const port = str('port');
  if (port !== undefined) options.port = integer(port, '-p/--port', 1, 65535);
  const user = str('user');
  if (user !== undefined) {
    options.user = nonEmpty(user, '-u/--user');
    if (user.startsWith('-') || /[\s\0@]/.test(user)) throw new UsageError(`-u/--user "${user}" is not a valid user name`);
  }
  const action = str('action');
  if (action !== undefined) {
    const a = action.toUpperCase();
    if (a !== 'PUSH' && a !== 'PULL') throw new UsageError(`unknown action "${action}" (use PUSH or PULL)`);
    options.action = a;
  }
  const mode = str('mode');
  if (mode !== undefined) {
    const m = mode.toUpperCase();
    if (m !== 'SYNC' && m !== 'COPY') throw new UsageError(`unknown mode "${mode}" (use SYNC or COPY)`);
    options.mode = m;
  }
  const hash = str('hash');
  if (hash !== undefined) {
    const h = hashByName(hash);
    if (h === undefined) {
      throw new UsageError(`unknown hash "${hash}" (use one of ${HASH_ALGORITHMS.map((x) => x.name).join(', ')})`);
    }
    options.hash = h;
  }
  const buffer = str('buffer');
  if (buffer !== undefined) options.bufferSize = integer(buffer, '--buffer (KiB)', 1, MAX_BUFFER_KIB) * 1024;
  const chunk = str('chunk');
  if (chunk !== undefined) options.chunkSize = integer(chunk, '--chunk (KiB)', 1, MAX_BUFFER_KIB) * 1024;
  const zlevel = str('zlevel');
  if (zlevel !== undefined) options.zlevel = integer(zlevel, '--zlevel', 0, 9);
  const bitmap = str('bitmap');
  if (bitmap !== undefined) options.bitmap = nonEmpty(bitmap, '-b/--bitmap');
  const rsh = str('rsh');
  if (rsh !== undefined) {
    const words = splitShellWords(rsh);
    if (words.length === 0) throw new UsageError('-e/--rsh is empty');
    options.rsh = words;
  }
  const remoteNode = str('remote-node');
  if (remoteNode !== undefined) options.remoteNode = nonEmpty(remoteNode, '--remote-node');

  validate(options);
  return options;
}

/** The rules that tie options together (the original tool's, plus the bitmap ones). */
function validate(o: Options): void {
  if (o.mode !== undefined && o.action === undefined) throw new UsageError('-m/--mode needs -a/--action');
  if (o.action !== undefined && o.mode === undefined) throw new UsageError(`-a/--action ${o.action} needs -m/--mode (SYNC or COPY)`);
  if (o.local === undefined && (o.bitmap === undefined || o.action === 'PUSH')) throw new UsageError('-l/--local is required');
  if (o.remote === undefined && (o.bitmap === undefined || o.action === 'PULL')) throw new UsageError('-r/--remote is required');
  if (o.user !== undefined && o.host === undefined) throw new UsageError('-u/--user needs -h/--host');
  if (o.chunkSize !== undefined && o.chunkSize > o.bufferSize) {
    throw new UsageError(`--chunk (${o.chunkSize / 1024} KiB) can't be larger than --buffer (${o.bufferSize / 1024} KiB)`);
  }
  if (o.bitmap !== undefined && o.mode !== 'SYNC') throw new UsageError('-b/--bitmap needs -m/--mode SYNC');
  if (o.resetBitmap && o.bitmap === undefined) throw new UsageError('--reset-bitmap needs -b/--bitmap');
  if (o.updateBitmap && o.bitmap === undefined) throw new UsageError('--update-bitmap needs -b/--bitmap');
  if (o.rsh !== undefined && o.host === undefined) throw new UsageError('-e/--rsh needs -h/--host');
  if (o.dryRun && o.mode !== 'SYNC') throw new UsageError('--dry-run needs -m/--mode SYNC');
  if (o.dryRun && (o.resetBitmap || o.updateBitmap)) throw new UsageError("--dry-run can't be combined with --reset-bitmap or --update-bitmap");
  if (o.create && o.action === undefined) throw new UsageError('--create needs -a/--action');
  // A dry run writes nothing, and creating or extending the destination is a write.
  if (o.create && o.dryRun) throw new UsageError("--dry-run can't be combined with --create");
  if (!o.bitmapCheck && o.bitmap === undefined) throw new UsageError('--no-bitmap-check needs -b/--bitmap');
  if (o.resetBitmap && o.updateBitmap) throw new UsageError("--reset-bitmap and --update-bitmap can't be used together");
  if (o.recheck && (o.local === undefined || o.remote === undefined)) throw new UsageError('--recheck needs both -l/--local and -r/--remote');
  if (o.updateBitmap && (o.local === undefined || o.remote === undefined)) {
    throw new UsageError('--update-bitmap reads the destination, so it needs both -l/--local and -r/--remote');
  }
}
