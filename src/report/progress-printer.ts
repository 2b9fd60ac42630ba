/**
 * --progress on stderr. On a terminal: one line redrawn in place, at most 5 times a
 * second, never wider than the terminal (a wider line wraps, and the carriage return
 * that redraws it then leaves its first row behind), redrawn when the terminal is
 * resized. Otherwise (a log file, a pipe, or TERM=dumb, which has no cursor control):
 * a plain line every few seconds and at the end of each phase, with no control codes.
 */
import type { ProgressListener } from '../engine/engine-context.js';
import { formatBytes, formatDuration } from './units.js';

export interface ProgressSink {
  write(text: string): void;
  readonly isTTY?: boolean;
  /** A terminal's width in characters (a tty.WriteStream's `columns`). */
  readonly columns?: number;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

/** Width assumed for a terminal that does not tell its own. */
const DEFAULT_COLUMNS = 80;

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
  /** True when the line is redrawn in place (a terminal that can move its cursor). */
  private readonly redraws: boolean;
  private readonly onResize = (): void => {
    if (this.active) this.print(false);
  };

  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number = () => performance.now(),
    private readonly json = false,
    term: string | undefined = process.env.TERM,
  ) {
    this.redraws = !json && sink.isTTY === true && term !== 'dumb';
    this.interval = this.redraws || json ? 200 : 5000;
  }

  start(phase: string, total: number): void {
    this.phase = phase;
    this.total = total;
    this.done = 0;
    this.started = this.now();
    this.lastPrint = this.started;
    this.active = true;
    if (this.redraws) this.sink.on?.('resize', this.onResize);
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
    if (this.redraws) this.sink.off?.('resize', this.onResize);
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

  /**
   * The human progress line for the current state, at most `width` characters: the
   * rate goes first, then the byte counts, so that a narrow terminal still shows the
   * percentage and the time.
   */
  render(final: boolean, width = Infinity): string {
    const elapsed = (this.now() - this.started) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const pct = this.total > 0 ? (100 * this.done) / this.total : 100;
    const eta = final ? `in ${formatDuration(elapsed)}` : `ETA ${rate > 0 ? formatDuration((this.total - this.done) / rate) : '--:--'}`;
    const head = `${this.phase} ${pct.toFixed(1).padStart(5)}%`;
    const bytes = `${formatBytes(this.done)} / ${formatBytes(this.total)}`;
    const forms = [`${head} ${bytes} ${formatBytes(rate)}/s ${eta}`, `${head} ${bytes} ${eta}`, `${head} ${eta}`, head];
    return forms.find((line) => line.length <= width) ?? head.slice(0, Math.max(width, 0));
  }

  private print(final: boolean): void {
    if (this.json) {
      this.sink.write(`${JSON.stringify(this.snapshot(final))}\n`);
      return;
    }
    if (!this.redraws) {
      this.sink.write(`${this.render(final)}\n`);
      return;
    }
    // One column short of the width: a line filling the last column leaves some
    // terminals waiting to wrap, and the next carriage return goes to the row below.
    const columns = this.sink.columns !== undefined && this.sink.columns > 0 ? this.sink.columns : DEFAULT_COLUMNS;
    this.sink.write(`\r\x1b[2K${this.render(final, columns - 1)}${final ? '\n' : ''}`);
  }
}
