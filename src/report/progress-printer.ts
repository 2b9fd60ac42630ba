/**
 * --progress on stderr. On a terminal: one line redrawn in place, at most 5 times a
 * second. Otherwise (a log file, a pipe): a plain line every few seconds.
 */
import type { ProgressListener } from '../engine/engine-context.js';
import { formatBytes, formatDuration } from './units.js';

export interface ProgressSink {
  write(text: string): void;
  readonly isTTY?: boolean;
}

/** --progress with --json: one JSON object per line, for programs. */
export interface ProgressLine {
  phase: string;
  done: number;
  total: number;
  percent: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  final: boolean;
}

export class ProgressPrinter implements ProgressListener {
  private phase = '';
  private total = 0;
  private done = 0;
  private started = 0;
  private lastPrint = 0;
  private active = false;
  private readonly interval: number;

  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number = () => performance.now(),
    private readonly json = false,
  ) {
    this.interval = sink.isTTY === true || json ? 200 : 5000;
  }

  start(phase: string, total: number): void {
    this.phase = phase;
    this.total = total;
    this.done = 0;
    this.started = this.now();
    this.lastPrint = this.started;
    this.active = true;
  }

  update(done: number): void {
    this.done = done;
    const t = this.now();
    if (t - this.lastPrint < this.interval) return;
    this.lastPrint = t;
    this.print(false);
  }

  end(): void {
    if (!this.active) return;
    this.active = false;
    this.print(true);
  }

  /** The figures of the current state. */
  snapshot(final: boolean): ProgressLine {
    const elapsed = (this.now() - this.started) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    return {
      phase: this.phase,
      done: this.done,
      total: this.total,
      percent: this.total > 0 ? Math.round((10000 * this.done) / this.total) / 100 : 100,
      bytesPerSecond: Math.round(rate),
      etaSeconds: final ? 0 : rate > 0 ? Math.round((this.total - this.done) / rate) : null,
      final,
    };
  }

  /** The human progress line for the current state. */
  render(final: boolean): string {
    const elapsed = (this.now() - this.started) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const pct = this.total > 0 ? (100 * this.done) / this.total : 100;
    const eta = final ? `in ${formatDuration(elapsed)}` : `ETA ${rate > 0 ? formatDuration((this.total - this.done) / rate) : '--:--'}`;
    return `${this.phase} ${pct.toFixed(1).padStart(5)}% ${formatBytes(this.done)} / ${formatBytes(this.total)} ${formatBytes(rate)}/s ${eta}`;
  }

  private print(final: boolean): void {
    if (this.json) {
      this.sink.write(`${JSON.stringify(this.snapshot(final))}\n`);
      return;
    }
    const line = this.render(final);
    if (this.sink.isTTY === true) this.sink.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else this.sink.write(`${line}\n`);
  }
}
