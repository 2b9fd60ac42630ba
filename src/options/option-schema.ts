/**
 * Every option of basyn, once: its command-line names, its name in the library,
 * the kind of value it takes with its range, its default and its --help text. The
 * command line (cli/command-line.ts), the library (api/library-options.ts) and
 * --help (cli/help.ts) are all read from this table, so a new option is one entry
 * here, plus a rule in option-rules.ts when it depends on others.
 */
import { AUTO_HASH } from '../hash/auto-hash.js';
import { DEFAULT_HASH, HASH_ALGORITHMS, hashByName } from '../hash/hash-algorithms.js';
import { choice, commandWords, flag, integer, rate, text, textList, type ValueKind } from './option-kinds.js';
import type { OptionKey } from './options.js';

export const DEFAULT_BUFFER_KIB = 2048;
export const MAX_BUFFER_KIB = 1024 * 1024;
/** zlib's level when --compress=zlib or --zlevel alone gives none: the original tool's. */
export const DEFAULT_ZLEVEL = 9;
export const DEFAULT_ZSTD_LEVEL = 3;

/** The library's functions; an option belongs to some of them. */
export type LibraryCall = 'sync' | 'copy' | 'recheck' | 'applyDelta';

/** The sections of --help, in their order. */
export type HelpGroup = 'devices' | 'action' | 'tuning' | 'bitmap' | 'delta' | 'output';

export interface OptionEntry {
  /** The field of Options it sets. */
  readonly key: OptionKey;
  readonly long: string;
  readonly short?: string;
  /** Its property in the library's options object; none: the command line only. */
  readonly library?: {
    readonly name: string;
    readonly calls: readonly LibraryCall[];
    /** The calls that can't run without it. */
    readonly requiredBy?: readonly LibraryCall[];
  };
  readonly kind: ValueKind<unknown>;
  /** May be given more than once on the command line; the values are kept in order. */
  readonly repeatable?: boolean;
  /** The value when not given; undefined: none. */
  readonly default?: unknown;
  /** The unit of a command-line value, shown with its name in messages: "--buffer (KiB)". */
  readonly unit?: string;
  readonly help: {
    readonly group: HelpGroup;
    /** The value's name in --help: "-l, --local=PATH". */
    readonly placeholder?: string;
    /** Marked "*" in --help (mandatory in the usual runs; the rules say exactly when). */
    readonly mandatory?: boolean;
    /** One paragraph; --help wraps it. */
    readonly text: string;
  };
}

const ALL: readonly LibraryCall[] = ['sync', 'copy', 'recheck'];
const TRANSFER: readonly LibraryCall[] = ['sync', 'copy'];
const SYNC: readonly LibraryCall[] = ['sync'];
/** The options that say where a device is: --apply-delta needs them too. */
const PLACE: readonly LibraryCall[] = [...ALL, 'applyDelta'];

const hashNames = HASH_ALGORITHMS.map((h) => h.name);

/**
 * What is wrong with a host, if anything. ssh also reads USER@HOST: the host part is
 * held to the same rules, so that neither part can become an ssh option.
 */
function hostProblem(h: string): string | undefined {
  const at = h.lastIndexOf('@');
  const host = h.slice(at + 1);
  if (h.startsWith('-')) return 'begins with "-"; refusing it so it cannot become an ssh option';
  if (host.startsWith('-')) return 'has a host after "@" that begins with "-"; refusing it so it cannot become an ssh option';
  if (/[\s\0]/.test(h)) return 'contains white space';
  if (at === 0 || host === '') return 'has an empty user or host around "@" (USER@HOST)';
  return undefined;
}

export const OPTION_SCHEMA: readonly OptionEntry[] = [
  {
    key: 'local', long: 'local', short: 'l', library: { name: 'local', calls: PLACE }, kind: text(),
    help: { group: 'devices', placeholder: 'PATH', mandatory: true, text: 'Local device or image file (e.g. /dev/sda1)' },
  },
  {
    key: 'remote', long: 'remote', short: 'r', library: { name: 'remote', calls: PLACE }, kind: text(),
    help: { group: 'devices', placeholder: 'PATH', mandatory: true, text: "Remote device or image file (e.g. /dev/vg_backups/copy-sda1); a leading ~/ is the home of the user opening it (the remote user's)" },
  },
  {
    key: 'host', long: 'host', short: 'h', library: { name: 'host', calls: PLACE },
    kind: text(hostProblem),
    help: {
      group: 'devices', placeholder: 'HOST',
      text: 'Remote SSH host. Without it the remote device is on this machine, no SSH is used, and basyn compares both devices byte for byte itself. (-h is the host; use --help for this text.)',
    },
  },
  {
    key: 'port', long: 'port', short: 'p', library: { name: 'port', calls: PLACE }, kind: integer(1, 65535),
    help: { group: 'devices', placeholder: 'PORT', text: 'SSH port (default: 22, or what ~/.ssh/config says); needs -h' },
  },
  {
    key: 'user', long: 'user', short: 'u', library: { name: 'user', calls: PLACE },
    kind: text((u) => (u.startsWith('-') || /[\s\0@]/.test(u) ? 'is not a valid user name' : undefined)),
    help: { group: 'devices', placeholder: 'USER', text: 'SSH user (default: the current user, or ~/.ssh/config); needs -h' },
  },
  {
    key: 'rsh', long: 'rsh', short: 'e', library: { name: 'rsh', calls: PLACE }, kind: commandWords(),
    help: {
      group: 'devices', placeholder: 'COMMAND',
      text: 'The ssh command to use, with its options, split like a shell would split it but never run by one (e.g. -e "ssh -i key -c aes128-gcm@openssh.com"); needs -h. basyn adds -p and -u after its words, and ssh keeps the first port and user it sees: a port or user given both inside it and with -p or -u is refused',
    },
  },
  {
    key: 'remoteNode', long: 'remote-node', library: { name: 'remoteNode', calls: PLACE }, kind: text(),
    help: {
      group: 'devices', placeholder: 'PATH',
      text: 'The node program on the remote host (default: node from PATH); without -h, serve the remote device from a local agent run by it',
    },
  },
  {
    key: 'sudo', long: 'sudo', library: { name: 'sudo', calls: PLACE }, kind: flag(), default: false,
    help: {
      group: 'devices',
      text: 'Run the agent through "sudo -n", so a user without rights on the device can use it; fails at once if sudo wants a password',
    },
  },
  {
    key: 'action', long: 'action', short: 'a', library: { name: 'action', calls: TRANSFER, requiredBy: TRANSFER },
    kind: choice('action', ['PUSH', 'PULL'], (a) => a),
    help: {
      group: 'action', placeholder: 'ACTION',
      text: 'PUSH: local is the source, remote the destination; PULL: remote is the source, local the destination. Without an action nothing is transferred: both devices are only opened (and compared with --recheck).',
    },
  },
  {
    // The library has no mode: sync() and copy() are the two modes.
    key: 'mode', long: 'mode', short: 'm', kind: choice('mode', ['SYNC', 'COPY'], (m) => m),
    help: {
      group: 'action', placeholder: 'MODE', mandatory: true,
      text: 'Mandatory with --action. SYNC: compare digests of both devices and send only the blocks that differ; COPY: send every block (best for the first run).',
    },
  },
  {
    key: 'recheck', long: 'recheck', library: { name: 'recheck', calls: TRANSFER }, kind: flag(), default: false,
    help: { group: 'action', text: 'Compare both devices after the action (or alone, without --action); exit 2 if they differ.' },
  },
  {
    key: 'dryRun', long: 'dry-run', library: { name: 'dryRun', calls: SYNC }, kind: flag(), default: false,
    help: {
      group: 'action',
      text: 'With SYNC: compare, write nothing (not the destination, not the bitmap); print each differing block and the bytes a real run would send; exit 0 if identical, 2 if not. Not with --create, --reset-bitmap or --update-bitmap.',
    },
  },
  {
    key: 'create', long: 'create', library: { name: 'create', calls: TRANSFER }, kind: flag(), default: false,
    help: {
      group: 'action',
      text: 'When the destination is an image file that is missing, create it with the source size (sparse); when it is smaller, extend it. Zero blocks are then not written where the file reads zeros.',
    },
  },
  {
    key: 'hash', long: 'hash', library: { name: 'hash', calls: ALL }, kind: choice('hash', [AUTO_HASH, ...hashNames], (n) => (n === AUTO_HASH ? AUTO_HASH : hashByName(n)!)),
    default: AUTO_HASH,
    help: {
      group: 'tuning', placeholder: 'NAME',
      text: `Digest for comparison over SSH and for bitmaps: ${DEFAULT_HASH}, ${hashNames.join(', ')} (default: ${DEFAULT_HASH}: XXH128 for SYNC without a bitmap, SHA1 with one; XXH128 is fastest but not cryptographic, SHA1 is not collision-proof: for a source an attacker may craft use SHA256 or BLAKE3)`,
    },
  },
  {
    key: 'bufferSize', long: 'buffer', library: { name: 'bufferKiB', calls: ALL }, kind: integer(1, MAX_BUFFER_KIB, 1024), unit: 'KiB',
    default: DEFAULT_BUFFER_KIB * 1024,
    help: { group: 'tuning', placeholder: 'KIB', text: `Block size in KiB for comparison and transfer, 1 to ${MAX_BUFFER_KIB} (default: ${DEFAULT_BUFFER_KIB})` },
  },
  {
    key: 'chunkSize', long: 'chunk', library: { name: 'chunkKiB', calls: ALL }, kind: integer(1, MAX_BUFFER_KIB, 1024), unit: 'KiB',
    help: {
      group: 'tuning', placeholder: 'KIB',
      text: 'Compare a differing block again in chunks of this many KiB and send only the differing chunks (off by default; <= --buffer)',
    },
  },
  {
    key: 'compress', long: 'compress', library: { name: 'compress', calls: ALL },
    kind: choice('codec', ['AUTO', 'ZSTD', 'ZLIB', 'NONE'], (c) => c.toLowerCase() as 'auto' | 'zstd' | 'zlib' | 'none'),
    help: {
      group: 'tuning', placeholder: 'CODEC',
      text: `Compression of data on the wire: auto (default; zstd from level 1 up where both ends have it — node's own or the WebAssembly build on threads of its own — else zlib, at the level that keeps the link full; with zlib, raw when the link is faster than compressing), zstd (level 1-19, default ${DEFAULT_ZSTD_LEVEL}), zlib (level 0-9, default ${DEFAULT_ZLEVEL}) or none. Zero blocks always travel as markers`,
    },
  },
  {
    key: 'zlevel', long: 'zlevel', library: { name: 'zlevel', calls: ALL }, kind: integer(0, 19),
    help: {
      group: 'tuning', placeholder: 'N',
      text: `Level of the --compress codec: zstd 1-19, zlib 0-9 (0: none). Without --compress it means zlib at level N, as in the original tool`,
    },
  },
  {
    key: 'bwlimit', long: 'bwlimit', library: { name: 'bwlimit', calls: ALL }, kind: rate(),
    help: {
      group: 'tuning', placeholder: 'RATE',
      text: 'Send at most RATE bytes per second on the wire, averaged over any 2 s, in the direction the data goes (500K, 20M, 1.5G; a plain number is KiB/s, as in rsync). --compress=auto takes RATE as the speed of the link',
    },
  },
  {
    key: 'bitmap', long: 'bitmap', short: 'b', library: { name: 'bitmap', calls: SYNC }, kind: text(),
    help: {
      group: 'bitmap', placeholder: 'FILE',
      text: 'Compare source digests with those stored in FILE instead of reading the destination; created when missing. With a bitmap the destination (-r for PUSH, -l for PULL) may be omitted: then no device is written, only the bitmap, which then describes the source (a line on stderr says so). With --chunk, the bitmap stores one digest per chunk.',
    },
  },
  {
    key: 'resetBitmap', long: 'reset-bitmap', library: { name: 'resetBitmap', calls: SYNC }, kind: flag(), default: false,
    help: { group: 'bitmap', text: 'Start the bitmap afresh: every block is sent, the destination is not read. Only a bitmap (or an empty file) is rewritten; any other file is refused and left as it is.' },
  },
  {
    key: 'updateBitmap', long: 'update-bitmap', library: { name: 'updateBitmap', calls: SYNC }, kind: flag(), default: false,
    help: { group: 'bitmap', text: 'Do a normal SYNC (reading both devices) and record the source digests in the bitmap.' },
  },
  {
    key: 'bitmapCheck', long: 'no-bitmap-check', library: { name: 'bitmapCheck', calls: SYNC }, kind: flag(false), default: true,
    help: {
      group: 'bitmap',
      text: 'Skip the spot check that reads 8 destination blocks to make sure the bitmap belongs to this destination.',
    },
  },
  {
    key: 'writeDelta', long: 'write-delta', library: { name: 'writeDelta', calls: SYNC }, kind: text(),
    help: {
      group: 'delta', placeholder: 'FILE',
      text: 'With -m SYNC: write the blocks (or --chunk chunks) that SYNC would write into the delta FILE ("-": standard output) instead of the destination. With -b, no destination is read (leave it out) and the bitmap advances only once FILE is complete and durable; without -b the destination is read and compared, and left untouched.',
    },
  },
  {
    key: 'applyDelta', long: 'apply-delta', repeatable: true, library: { name: 'applyDelta', calls: ['applyDelta'], requiredBy: ['applyDelta'] }, kind: textList(),
    help: {
      group: 'delta', placeholder: 'FILE',
      text: 'Apply the delta FILE ("-": standard input) to -l DEV (this machine) or -r DEV [-h HOST] (through the agent; the file is read here); no -a/-m. Repeat it to apply a chain, in the order given. Every block it touches is verified first: it must hold the delta\'s before or after state, else nothing is written (exit 2). Running it again after an interruption completes it.',
    },
  },
  {
    key: 'size', long: 'size', library: { name: 'size', calls: TRANSFER }, kind: integer(1, Number.MAX_SAFE_INTEGER),
    help: {
      group: 'delta', placeholder: 'BYTES',
      text: 'With -l - (PUSH): the source is standard input, read once, and holds exactly BYTES bytes; a pipe that ends early or goes on is an error (exit 2). COPY and SYNC (against the destination or a bitmap) work; --chunk, --recheck and PULL need a second read and are refused.',
    },
  },
  {
    key: 'undo', long: 'undo', library: { name: 'undo', calls: ['sync', 'copy', 'applyDelta'] }, kind: text(),
    help: {
      group: 'delta', placeholder: 'FILE',
      text: 'With a run that writes the destination (COPY, SYNC, bitmap SYNC, --apply-delta): save the old contents of every block it overwrites into FILE, a new file in the delta format, durable before the blocks are written; --apply-delta=FILE rolls the run back. A COPY with --undo reads the destination too. FILE is written on the machine of the destination, beside the old data (by the agent when the destination is remote: a path there).',
    },
  },
  {
    key: 'force', long: 'force', library: { name: 'force', calls: ['applyDelta'] }, kind: flag(), default: false,
    help: { group: 'delta', text: 'With --apply-delta: write the delta\'s blocks even where the device holds neither their before nor their after state.' },
  },
  {
    key: 'stat', long: 'stat', kind: flag(), default: false,
    help: { group: 'output', text: 'Print a STAT line with sizes, traffic, time and bandwidth' },
  },
  {
    key: 'json', long: 'json', kind: flag(), default: false,
    help: {
      group: 'output',
      text: 'Print one JSON object with the outcome and every figure at the end, and nothing else on stdout (--progress then prints JSON lines)',
    },
  },
  {
    key: 'verbose', long: 'verbose', kind: flag(), default: false,
    help: { group: 'output', text: 'Timestamped lines on stdout about what is being done' },
  },
  {
    key: 'progress', long: 'progress', kind: flag(), default: false,
    help: { group: 'output', text: 'Progress with rate and ETA on stderr' },
  },
  {
    key: 'debug', long: 'debug', kind: flag(), default: false,
    help: { group: 'output', text: "Per-block detail, byte counts and the agent's stderr on stderr" },
  },
  { key: 'help', long: 'help', kind: flag(), default: false, help: { group: 'output', text: 'This text' } },
  { key: 'version', long: 'version', kind: flag(), default: false, help: { group: 'output', text: 'The version' } },
  {
    key: 'completion', long: 'completion', kind: choice('shell', ['BASH'], () => 'bash'),
    help: { group: 'output', placeholder: 'SHELL', text: 'Print the completion script for this shell (bash), made from this option list' },
  },
];

export function entryOf(key: OptionKey): OptionEntry {
  const entry = OPTION_SCHEMA.find((e) => e.key === key);
  if (entry === undefined) throw new Error(`no option sets ${key}`);
  return entry;
}
