/**
 * A TCP proxy on 127.0.0.1 that models a slow link: every chunk is delivered
 * `delayMs` after it arrived (one way, in each direction), optionally after waiting
 * for a bandwidth cap, and always in the order it arrived. It forwards to one
 * target (the bench's sshd).
 *
 * Bounded: each direction holds at most `maxQueuedBytes` (queue plus the
 * destination socket's buffer) before it stops reading its source. Stopping by
 * itself: the server never keeps the process alive, and it closes once no
 * connection has been open for `idleStopMs`.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface DelayProxyOptions {
  targetPort: number;
  targetHost?: string;
  /** One-way delay added in each direction, in milliseconds. */
  delayMs: number;
  /** Cap per direction, in bytes per second; unlimited when omitted. */
  bytesPerSecond?: number;
  /** Per direction; reading from the source pauses above it (default 8 MiB). */
  maxQueuedBytes?: number;
  /** Stop after this long without any open connection (default 10 minutes). */
  idleStopMs?: number;
}

export interface DelayProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Resolves once the proxy has stopped (by stop() or by itself). */
  readonly stopped: Promise<void>;
  stop(): Promise<void>;
}

const DEFAULT_MAX_QUEUED = 8 * 1024 * 1024;
const DEFAULT_IDLE_STOP_MS = 10 * 60 * 1000;

interface Scheduled {
  /** performance.now() at which the chunk may be written. */
  due: number;
  /** undefined: the source ended; end the destination. */
  data: Buffer | undefined;
}

/**
 * One direction of a connection. A chunk's delivery time is when the (capped) link
 * has finished carrying it plus the delay; those times never decrease, so delivering
 * the queue head first keeps the byte order.
 */
class DelayedPipe {
  private readonly queue: Scheduled[] = [];
  private queuedBytes = 0;
  private linkFreeAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private paused = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly delayMs: number,
    private readonly bytesPerSecond: number | undefined,
    private readonly maxQueuedBytes: number,
  ) {
    from.on('data', (chunk: Buffer) => this.schedule(chunk));
    from.on('end', () => this.schedule(undefined));
    to.on('drain', () => this.resumeIfRoom());
  }

  private schedule(data: Buffer | undefined): void {
    const now = performance.now();
    const start = Math.max(now, this.linkFreeAt);
    const carry = data !== undefined && this.bytesPerSecond !== undefined ? (1000 * data.length) / this.bytesPerSecond : 0;
    this.linkFreeAt = start + carry;
    this.queue.push({ due: this.linkFreeAt + this.delayMs, data });
    this.queuedBytes += data?.length ?? 0;
    if (this.backlog() > this.maxQueuedBytes && !this.paused) {
      this.paused = true;
      this.from.pause();
    }
    this.arm();
  }

  private backlog(): number {
    return this.queuedBytes + this.to.writableLength;
  }

  /** Delivers what is due now (no timer hop at 0 ms), and waits for the next head. */
  private arm(): void {
    if (this.timer !== undefined || this.queue.length === 0) return;
    const wait = Math.ceil(this.queue[0]!.due - performance.now());
    if (wait <= 0) this.deliverDue();
    else this.timer = setTimeout(() => this.deliverDue(), wait);
  }

  private deliverDue(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const { data } = this.queue.shift()!;
      if (this.to.destroyed) return;
      if (data === undefined) {
        this.to.end();
      } else {
        this.queuedBytes -= data.length;
        this.to.write(data);
      }
    }
    this.resumeIfRoom();
    if (this.queue.length > 0) this.timer = setTimeout(() => this.deliverDue(), Math.max(1, Math.ceil(this.queue[0]!.due - now)));
  }

  private resumeIfRoom(): void {
    if (this.paused && this.backlog() <= this.maxQueuedBytes / 2) {
      this.paused = false;
      this.from.resume();
    }
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const maxQueued = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED;
  const idleStopMs = options.idleStopMs ?? DEFAULT_IDLE_STOP_MS;
  const open = new Set<Socket>();
  let accepted = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    clearIdleTimer();
    const upstream = connect({ port: options.targetPort, host: options.targetHost ?? '127.0.0.1', allowHalfOpen: true });
    const pipes = [
      new DelayedPipe(client, upstream, options.delayMs, options.bytesPerSecond, maxQueued),
      new DelayedPipe(upstream, client, options.delayMs, options.bytesPerSecond, maxQueued),
    ];
    const pair = [client, upstream];
    const teardown = (): void => {
      for (const pipe of pipes) pipe.cancel();
      for (const socket of pair) socket.destroy();
    };
    for (const socket of pair) {
      open.add(socket);
      socket.on('error', teardown);
      socket.on('close', () => {
        open.delete(socket);
        // One side gone for good: nothing more can flow either way.
        if (socket.destroyed && !(socket.readableEnded && socket.writableFinished)) teardown();
        if (open.size === 0) armIdleTimer();
      });
    }
  });

  function clearIdleTimer(): void {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    idleTimer = undefined;
  }

  function armIdleTimer(): void {
    clearIdleTimer();
    idleTimer = setTimeout(() => void stop(), idleStopMs);
    idleTimer.unref();
  }

  async function stop(): Promise<void> {
    clearIdleTimer();
    for (const socket of open) socket.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    resolveStopped();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  armIdleTimer();
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get accepted() {
      return accepted;
    },
    stopped,
    stop,
  };
}
