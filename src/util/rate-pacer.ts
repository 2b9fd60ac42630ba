/**
 * Paces bytes to a rate (--bwlimit): a token bucket that holds at most one slice of
 * 1/20 s of the rate. Whatever window one looks at, the bytes let through in it are at
 * most rate x window + one slice, so over any 2 s they stay within 2.5 % of the rate.
 * Pure: the clock is passed in.
 */
export class RatePacer {
  /** The most bytes let through at once. */
  readonly slice: number;
  private tokens: number;
  private last: number;

  constructor(
    readonly bytesPerSecond: number,
    now: number,
  ) {
    this.slice = Math.max(1, Math.min(256 * 1024, Math.floor(bytesPerSecond / 20)));
    this.tokens = this.slice;
    this.last = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.slice, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }

  /** Bytes that may go now (at most `wanted`), taken from the bucket. */
  take(wanted: number, now: number): number {
    this.refill(now);
    const n = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** Milliseconds until `bytes` (at most one slice) may go. */
  waitFor(bytes: number, now: number): number {
    this.refill(now);
    const missing = Math.min(bytes, this.slice) - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.bytesPerSecond) * 1000);
  }
}
