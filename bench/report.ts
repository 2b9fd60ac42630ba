/**
 * The bench's results: a Markdown report (machine, ceilings, one row per scenario)
 * for stdout and pasting, and the same figures as JSON.
 */
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { REPO_ROOT } from '../src/test-support/paths.js';
import type { BenchOptions } from './bench-options.js';
import { formatCeiling, type Ceiling } from './ceilings.js';
import type { ScenarioResult } from './run-scenario.js';

export interface BenchReport {
  commit: string;
  /** The working tree had changes not in the commit. */
  dirty: boolean;
  date: string;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; kernel: string };
  options: BenchOptions;
  /** Compressed / original size of a sample of the mixed image at zlib level 1. */
  mixedZlib1Ratio?: number;
  ceilings: Ceiling[];
  scenarios: ScenarioResult[];
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function describeCheckout(): { commit: string; dirty: boolean } {
  return { commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown', dirty: git(['status', '--porcelain']) !== '' };
}

export function describeMachine(): BenchReport['machine'] {
  const list = cpus();
  return {
    cpu: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    kernel: release(),
  };
}

/** A Markdown table, columns padded so it also reads well as plain text. */
function table(head: string[], body: string[][]): string {
  const rows = body.map((cells) => cells.map((c) => c.replace(/\|/g, '\\|')));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const fixed = (value: number | undefined, digits: number): string => (value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits));

function verdictWord(r: ScenarioResult): string {
  if (r.error !== undefined) return 'ERROR';
  if (r.verdict?.pass === undefined) return r.verdict?.target === '-' || r.verdict?.target.startsWith('- ') ? '-' : 'n/a';
  return r.verdict.pass ? 'pass' : 'FAIL';
}

function scenarioRow(r: ScenarioResult): string[] {
  return [
    r.id,
    fixed(r.medianSeconds, 3),
    fixed(r.mbps, 0),
    r.wireBytes === undefined ? '-' : (r.wireBytes / 1e6).toFixed(3),
    fixed(r.rssLocalMiB, 0),
    fixed(r.rssAgentMiB, 0),
    r.verdict?.reference ?? '-',
    fixed(r.verdict?.ratio, 2),
    r.verdict?.target ?? '-',
    verdictWord(r),
    r.error ?? r.verdict?.detail ?? '',
  ];
}

export function formatReport(report: BenchReport): string {
  const m = report.machine;
  const o = report.options;
  const lines = [
    `## basyn bench, commit ${report.commit}${report.dirty ? ' (with uncommitted changes)' : ''}, ${report.date}`,
    '',
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}, Linux ${m.kernel}`,
    `size ${o.size / 1024 ** 2} MiB, ${o.runs} run(s) per scenario (median), images in ${o.dir}` +
      (report.mixedZlib1Ratio !== undefined ? `, mixed image at zlib level 1: ${(100 * report.mixedZlib1Ratio).toFixed(1)}% of its size` : ''),
    'MB = 10^6 bytes; wire = Rx+Tx of --stat; RSS = peak VmHWM of basyn (local) and its agent; targets are for 1 GiB on a quiet machine.',
    '',
    '### Ceilings',
    '',
    table(
      ['ceiling', 'median', 'samples', 'how'],
      report.ceilings.map((c) => [c.label, formatCeiling(c), c.samples.map((s) => s.toFixed(c.unit === 's' ? 3 : 0)).join(' '), c.method]),
    ),
    '',
    '### Scenarios',
    '',
    table(
      ['scenario', 'median s', 'MB/s', 'wire MB', 'RSS local MiB', 'RSS agent MiB', 'compared with', 'ratio', 'target', 'result', 'notes'],
      report.scenarios.map(scenarioRow),
    ),
    '',
  ];
  return lines.join('\n');
}

export async function writeJsonReport(path: string, report: BenchReport): Promise<void> {
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
}
