/**
 * Runs asynchronous operations with a bound on the bytes AND on the number of
 * operations in flight. Bytes alone are not enough: a zero marker or a 1 KiB block
 * weighs next to nothing, yet each one in flight is a promise, a closure and a buffer,
 * so a window of 32 MiB would admit tens of thousands of them.
 *
 * Waiting costs O(1) per operation: callers that do not fit queue in order, and each
 * completion admits from the head of the queue what now fits (never a race over every
 * running operation, which costs O(n) per wait and piles a reaction onto each of them).
 *
 * The caller awaits `add`, which returns as soon as the new operation is started; a
 * failure is kept and rethrown by the next `add` or by `drain`, so no error is lost or
 * reported twice.
 */
export interface WindowLimits {
  /** Bytes in flight (one oversized operation always fits alone). */
  bytes: number;
  /** Operations in flight. */
  items: number;
}

interface Waiter {
  bytes: number;
  admit: () => void;
}

export class BoundedWindow {
  private bytes = 0;
  private items = 0;
  /** Callers waiting for room, oldest first (from `head` on). */
  private queue: (Waiter | undefined)[] = [];
  private head = 0;
  private idleWaiters: (() => void)[] = [];
  private failure: unknown = undefined;
  private failed = false;

  constructor(private readonly limits: WindowLimits) {
    if (!(limits.bytes > 0) || !(limits.items >= 1)) throw new RangeError('a window needs room for at least one operation');
  }

  get bytesInFlight(): number {
    return this.bytes;
  }

  get itemsInFlight(): number {
    return this.items;
  }

  /** Starts `operation` once `bytes` more (and one more operation) fit in the window. */
  async add(bytes: number, operation: () => Promise<void>): Promise<void> {
    this.throwIfFailed();
    if (this.head === this.queue.length && this.fits(bytes)) {
      this.bytes += bytes;
      this.items++;
    } else {
      // Admitted (and counted) by a completing operation: see admitWaiting.
      await new Promise<void>((admit) => this.queue.push({ bytes, admit }));
      if (this.failed) {
        this.release(bytes);
        this.throwIfFailed();
      }
    }
    let running: Promise<void>;
    try {
      running = operation();
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      () => this.release(bytes),
      (error: unknown) => {
        if (!this.failed) {
          this.failed = true;
          this.failure = error;
        }
        this.release(bytes);
      },
    );
  }

  /** Waits for every operation started so far (and those still queued); throws the first failure. */
  async drain(): Promise<void> {
    while (this.items > 0 || this.head < this.queue.length) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.throwIfFailed();
  }

  private fits(bytes: number): boolean {
    return this.items === 0 || (this.items < this.limits.items && this.bytes + bytes <= this.limits.bytes);
  }

  private release(bytes: number): void {
    this.bytes -= bytes;
    this.items--;
    this.admitWaiting();
    if (this.items === 0 && this.head === this.queue.length && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private admitWaiting(): void {
    while (this.head < this.queue.length) {
      const w = this.queue[this.head]!;
      if (!this.fits(w.bytes)) break;
      this.queue[this.head++] = undefined;
      this.bytes += w.bytes;
      this.items++;
      w.admit();
    }
    // Drop the admitted slots now and then: O(1) amortised, and the array stays small.
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }
}
