/**
 * The command's standard output or standard error, written so that a write that
 * fails (the reader closed the pipe: EPIPE; a full disk or /dev/full: ENOSPC) is
 * recorded instead of thrown. Node reports such a failure either by throwing from
 * write() or, later, as an 'error' event on the stream, which with no listener is an
 * uncaught exception that ends the process in the middle of the run, with its locks
 * still held and its writes unflushed. Here the run goes on and the command decides,
 * once it is over, what the lost output means for its exit code.
 */
export class SafeOutput {
  private firstFailure: NodeJS.ErrnoException | undefined;
  /** One callback for every write, so Node can batch the callbacks of synchronous writes. */
  private readonly afterWrite = (error?: Error | null): void => {
    if (error !== undefined && error !== null) this.record(error);
  };

  constructor(
    private readonly stream: NodeJS.WriteStream,
    /** "standard output" or "standard error", for the message about a failure. */
    readonly name: string,
  ) {
    stream.on('error', (error) => this.record(error));
  }

  /** The first write that failed, if any did. */
  get failure(): NodeJS.ErrnoException | undefined {
    return this.firstFailure;
  }

  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  /** The terminal's width, when the output is a terminal. */
  get columns(): number | undefined {
    return this.stream.columns;
  }

  /** A terminal's 'resize' event, so a progress line can follow the terminal's width. */
  on(event: 'resize', listener: () => void): void {
    this.stream.on(event, listener);
  }

  off(event: 'resize', listener: () => void): void {
    this.stream.off(event, listener);
  }

  /** Writes `text`; after a failure, writes nothing more (the rest would be cut anyway). */
  write(text: string): void {
    if (this.firstFailure !== undefined) return;
    try {
      this.stream.write(text, this.afterWrite);
    } catch (error) {
      this.record(error);
    }
  }

  /**
   * Resolves once everything written so far has reached the operating system, or has
   * failed: the failure of a write is known only after its callback or 'error' event.
   */
  async settled(): Promise<void> {
    const stream = this.stream;
    if (this.firstFailure === undefined && !stream.destroyed && stream.writableLength > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          stream.off('drain', done);
          stream.off('error', done);
          stream.off('close', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('error', done);
        stream.on('close', done);
      });
    }
    // The callback of the last write and a following 'error' event come on later ticks.
    await new Promise((resolve) => setImmediate(resolve));
  }

  private record(error: unknown): void {
    if (this.firstFailure !== undefined) return;
    this.firstFailure = error instanceof Error ? (error as NodeJS.ErrnoException) : Object.assign(new Error(String(error)), { code: undefined });
  }
}

/** Why a write to an output failed, in words (not "write EPIPE"). */
export function describeOutputFailure(error: NodeJS.ErrnoException): string {
  const known: Record<string, string> = {
    EPIPE: 'its reader has gone (EPIPE)',
    ENOSPC: 'no space left on device (ENOSPC)',
    EDQUOT: 'disk quota exceeded (EDQUOT)',
    EIO: 'i/o error (EIO)',
    EAGAIN: 'it would block (EAGAIN)',
  };
  const code = error.code;
  if (code !== undefined && known[code] !== undefined) return known[code];
  return code !== undefined ? `${error.message.replace(/^[A-Z]+: /, '')} (${code})` : error.message;
}
