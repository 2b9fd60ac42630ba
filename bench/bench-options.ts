/** The bench's command line: sizes, runs, output and which scenarios to run. */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';

export interface BenchOptions {
  /** Size of the main images, in bytes (S6 uses a quarter, S7 four times). */
  size: number;
  runs: number;
  json?: string;
  /** Scenario groups or ids to run (e.g. S1, S4-z9); all when undefined. */
  only?: string[];
  dir: string;
  quick: boolean;
}

const MiB = 1024 * 1024;
export const DEFAULT_SIZE = 1024 * MiB;
export const QUICK_SIZE = 64 * MiB;
const DEFAULT_RUNS = 3;

export const BENCH_USAGE = `Usage: npm run bench -- [options]

  --size SIZE     size of the main images (default 1GiB; S6 uses a quarter, S7 four
                  times); a number of bytes or with K/M/G (KiB/MiB/GiB), a multiple of 4 MiB
  --runs N        timed runs per scenario, the median is reported (default 3)
  --json PATH     also write every figure as JSON to PATH
  --only LIST     comma-separated scenario groups or ids, e.g. S1,S4-z9 (default: all)
  --dir PATH      where the images go (default /dev/shm when it exists, else the temp folder)
  --quick         smoke test: 64 MiB images and 1 run unless --size/--runs say otherwise
  --help          this text
`;

export class BenchUsageError extends Error {}

/** "1GiB", "64M", "4096" -> bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (m === null) throw new BenchUsageError(`--size: cannot read "${text}" (e.g. 1GiB, 256M, 67108864)`);
  const power = ' KMGT'.indexOf((m[2] || ' ').toUpperCase());
  const bytes = Math.round(Number(m[1]) * 1024 ** power);
  if (bytes < 8 * MiB || bytes % (4 * MiB) !== 0) throw new BenchUsageError(`--size must be a multiple of 4 MiB and at least 8 MiB, got ${text}`);
  return bytes;
}

function defaultDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/** Parses argv (without node and script); undefined means --help was asked for. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions | undefined {
  const given = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (m === null) throw new BenchUsageError(`unexpected argument "${arg}"`);
    const name = m[1]!;
    if (name === 'quick' || name === 'help') {
      given.set(name, true);
    } else if (['size', 'runs', 'json', 'only', 'dir'].includes(name)) {
      const value = m[2] ?? argv[++i];
      if (value === undefined) throw new BenchUsageError(`--${name} needs a value`);
      given.set(name, value);
    } else {
      throw new BenchUsageError(`unknown option --${name}`);
    }
  }
  if (given.has('help')) return undefined;
  const quick = given.has('quick');
  const text = (name: string): string | undefined => {
    const v = given.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const runsText = text('runs');
  const runs = runsText === undefined ? (quick ? 1 : DEFAULT_RUNS) : Number(runsText);
  if (!Number.isInteger(runs) || runs < 1) throw new BenchUsageError(`--runs must be a whole number >= 1, got ${runsText}`);
  const sizeText = text('size');
  const options: BenchOptions = {
    size: sizeText === undefined ? (quick ? QUICK_SIZE : DEFAULT_SIZE) : parseSize(sizeText),
    runs,
    dir: text('dir') ?? defaultDir(),
    quick,
  };
  const json = text('json');
  if (json !== undefined) options.json = json;
  const only = text('only');
  if (only !== undefined) options.only = only.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return options;
}
