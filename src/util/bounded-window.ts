/**
 * Runs asynchronous operations with a bound on the bytes in flight. The caller awaits
 * `add`, which returns as soon as the new operation fits; a failure is kept and
 * rethrown by the next `add` or by `drain`, so no error is lost or reported twice.
 */
export class BoundedWindow {
  private inFlight = 0;
  private readonly running = new Set<Promise<void>>();
  private failure: unknown = undefined;
  private failed = false;

  constructor(private readonly limitBytes: number) {}

  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Starts `operation` once `bytes` more fit in the window (one oversized op always fits alone). */
  async add(bytes: number, operation: () => Promise<void>): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight > 0 && this.inFlight + bytes > this.limitBytes) {
      await Promise.race(this.running);
      this.throwIfFailed();
    }
    this.inFlight += bytes;
    const p: Promise<void> = operation().then(
      () => {
        this.inFlight -= bytes;
        this.running.delete(p);
      },
      (error: unknown) => {
        this.inFlight -= bytes;
        this.running.delete(p);
        if (!this.failed) {
          this.failed = true;
          this.failure = error;
        }
      },
    );
    this.running.add(p);
  }

  /** Waits for every operation started so far; throws the first failure. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }
}
