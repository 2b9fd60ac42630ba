/**
 * At most `limit` operations at once; the others wait their turn, oldest first. The
 * codecs pass every threaded (de)compression through one: with a 16 MiB write window
 * of 4 MiB pieces, up to eight zlib streams ran at once, each holding its block's
 * output while libuv's four threads worked on others, for no more speed than one
 * stream per core gives.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('a gate lets at least one operation through');
  }

  async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((go) => this.waiting.push(go));
    else this.running++;
    try {
      return await operation();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next in line: `running` stays as it is.
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
