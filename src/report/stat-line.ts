/**
 * The --stat line, byte for byte in the original tool's format so that scripts
 * parsing it keep working. kB here are 1024 bytes, as in the original.
 */
export interface StatFigures {
  size: number;
  rx: number;
  tx: number;
  seconds: number;
}

export function formatStatLine(f: StatFigures): string {
  const both = f.rx + f.tx;
  const ratio = f.size > 0 ? (100 * both) / f.size : 100;
  const seconds = Math.max(f.seconds, 0.001);
  const real = both / (1024 * seconds);
  const effective = f.size / (1024 * seconds);
  return (
    `STAT. Device size:${f.size}B. Traffic: Rx:${f.rx}B, Tx:${f.tx}B, Both:${both}B ` +
    `Ratio: ${ratio.toFixed(4)}%. Time: ${f.seconds.toFixed(2)}s. ` +
    `Bandwidth: Real:${real.toFixed(2)}kB/s, Effective:${effective.toFixed(2)}kB/s`
  );
}

/** The line --stat adds for a delta written or applied (after the STAT line). */
export function formatDeltaStatLine(d: { operation: 'write' | 'apply'; entries: number; dataBytes: number; fileSize: number; skipped?: number }): string {
  const applied = d.operation === 'apply' ? ` Written: ${d.entries - (d.skipped ?? 0)}, already in place: ${d.skipped ?? 0}.` : '';
  return `DELTA. ${d.operation === 'write' ? 'Written' : 'Applied'}: ${d.entries} entries, data ${d.dataBytes}B, file ${d.fileSize}B.${applied}`;
}
