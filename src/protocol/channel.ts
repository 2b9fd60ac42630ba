/**
 * A framed, counted, two-way message channel over a byte stream pair: the stdin
 * and stdout of an agent, the pipes of a child process, or in-memory streams in
 * tests. It never pauses its input for the application: every stream above it is
 * credit-bounded, so reading always goes on and replies cannot deadlock behind data.
 */
import type { Readable, Writable } from 'node:stream';
import { ProtocolError } from '../errors.js';
import { RatePacer } from '../util/rate-pacer.js';
import { FrameDecoder, HANDSHAKE_FRAME_LIMIT, decodeMessage, encodeMessage, type Frame, type FrameReuse, type Message } from './protocol.js';

/**
 * A frame begun but not finished for this long ends the session: a peer that sends
 * half a frame and then nothing would otherwise hold the other end forever. Any byte
 * arriving restarts the clock, so a slow link is not mistaken for a stalled one.
 */
export const FRAME_STALL_MS = 120_000;

/**
 * The input ended in the middle of a frame, or failed: the link or the peer went away
 * while a message was on its way. A lost connection, not a malformed message, and
 * there is nobody left to answer.
 */
export class InputLostError extends ProtocolError {}

/**
 * The event an input emits instead of 'data' when it reads into one buffer again and
 * again (transport/reused-read-buffer.ts): the chunk is valid only during the call. A
 * pipe read into fresh memory each time made 600 MiB of 64 KiB buffers per GiB moved,
 * which the collector freed late (node 24's command of a SYNC PULL of 1 GiB of
 * compressible data: 170 MiB of RSS, most of it dead reads and the heap they left
 * fragmented).
 */
export const BORROWED_CHUNK: unique symbol = Symbol('basyn.borrowedChunk');

/** Bytes a rate-limited channel queues before send() says "wait for drained()". */
const PACED_HIGH_WATER = 64 * 1024;

export interface ChannelHandlers {
  /**
   * `release` gives the frame's memory back to the channel's `reuse` pool: for a
   * message of that type, call it once nothing reads the message's bytes any more
   * (never before). For other types it does nothing. Not calling it is safe: the
   * memory is then the garbage collector's, as a fresh buffer would be.
   */
  message(message: Message, release: () => void): void;
  /** The input ended (cleanly or not) or a frame was malformed. Called once. */
  closed(error: ProtocolError | undefined): void;
}

export class Channel {
  private readonly decoder: FrameDecoder;
  /** Bytes received (Rx) and sent (Tx), framing included. */
  bytesIn = 0;
  bytesOut = 0;
  private ended = false;
  private drainWaiters: (() => void)[] = [];
  private stallTimer: NodeJS.Timeout | undefined;
  /** Set by setRateLimit: output then goes through `paced`, let out slice by slice. */
  private pacer: RatePacer | undefined;
  /** Each with its message's `written` on the message's last part (see send). */
  private paced: { part: Buffer; written?: () => void }[] = [];
  private pacedBytes = 0;
  private pacingTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly handlers: ChannelHandlers,
    frameLimit = HANDSHAKE_FRAME_LIMIT,
    private readonly stallMs = FRAME_STALL_MS,
    reuse?: FrameReuse,
  ) {
    this.decoder = new FrameDecoder(frameLimit, reuse);
    input.on('data', (chunk: Buffer) => this.receive(chunk, false));
    input.on(BORROWED_CHUNK, (chunk: Buffer) => this.receive(chunk, true));
    input.on('end', () => {
      const partial = this.decoder.pendingBytes;
      this.finish(partial > 0 ? new InputLostError(`stream ended inside a frame (${partial} bytes of it received)`) : undefined);
    });
    input.on('error', (error: Error) => this.finish(new InputLostError(`input failed: ${error.message}`, {}, { cause: error })));
    input.on('close', () => this.finish(undefined));
    output.on('drain', () => {
      if (this.pacer !== undefined) this.pump();
      else this.releaseDrainWaiters();
    });
    // A broken pipe shows up as the input closing too; release writers so nothing hangs.
    output.on('error', () => this.dropPaced());
    output.on('close', () => this.dropPaced());
    // An input already gone emits nothing more: a child process that could not be
    // started (ssh, node or sudo not found) has its pipes destroyed at once, possibly
    // before this channel exists. Notice it, or the session waits 120 s for a HELLO.
    if (input.destroyed) process.nextTick(() => this.finish(undefined));
  }

  setFrameLimit(limit: number): void {
    this.decoder.setLimit(limit);
  }

  /** Limits the bytes written to `bytesPerSecond` from now on (0: no limit). */
  setRateLimit(bytesPerSecond: number): void {
    this.pacer = bytesPerSecond > 0 ? new RatePacer(bytesPerSecond, performance.now()) : undefined;
  }

  /** Writes queued bytes as fast as the pacer and the output allow. */
  private pump(): void {
    const pacer = this.pacer;
    if (pacer === undefined || this.pacingTimer !== undefined) return;
    while (this.paced.length > 0 && !this.output.writableNeedDrain) {
      const { part: head, written } = this.paced[0]!;
      const now = performance.now();
      const n = pacer.take(head.length, now);
      if (n === 0) {
        this.pacingTimer = setTimeout(() => {
          this.pacingTimer = undefined;
          this.pump();
        }, Math.max(1, pacer.waitFor(head.length, now)));
        break;
      }
      if (n === head.length) this.paced.shift();
      else this.paced[0] = { part: head.subarray(n), ...(written !== undefined ? { written } : {}) };
      this.pacedBytes -= n;
      if (n === head.length && written !== undefined) this.output.write(head, () => written());
      else this.output.write(n === head.length ? head : head.subarray(0, n));
    }
    if (this.pacedBytes <= PACED_HIGH_WATER && !this.output.writableNeedDrain) this.releaseDrainWaiters();
  }

  /** The output is gone: nothing queued can be written any more. */
  private dropPaced(): void {
    clearTimeout(this.pacingTimer);
    this.pacingTimer = undefined;
    // Dropped with a failed output counts as written (send's contract).
    const dropped = this.paced;
    this.paced = [];
    this.pacedBytes = 0;
    for (const p of dropped) p.written?.();
    this.releaseDrainWaiters();
  }

  /** `borrowed`: the input reads into `chunk` again once this returns (BORROWED_CHUNK). */
  private receive(chunk: Buffer, borrowed: boolean): void {
    if (this.ended) return;
    this.bytesIn += chunk.length;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk, borrowed);
    } catch (error) {
      this.finish(error as ProtocolError);
      return;
    }
    this.watchForStall();
    for (const frame of frames) {
      if (this.ended) return;
      let message: Message;
      try {
        message = decodeMessage(frame.body);
      } catch (error) {
        this.finish(error as ProtocolError);
        return;
      }
      this.handlers.message(message, frame.release);
    }
  }

  private watchForStall(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (this.decoder.pendingBytes === 0) return;
    this.stallTimer = setTimeout(() => {
      this.finish(new ProtocolError(`no data for ${this.stallMs / 1000} s in the middle of a frame`));
    }, this.stallMs);
    this.stallTimer.unref();
  }

  private finish(error: ProtocolError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.stallTimer);
    this.input.pause();
    this.releaseDrainWaiters();
    this.handlers.closed(error);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /**
   * Sends one message. Returns false when the output buffer is full: await drained().
   * `written` is called once the output no longer holds the message's bytes (written
   * out, or dropped with a failed output); never when nothing was queued.
   */
  send(message: Message, written?: () => void): boolean {
    if (this.output.destroyed || this.output.writableEnded) return false;
    const parts = encodeMessage(message);
    if (this.pacer !== undefined) {
      // Under --bwlimit too, `written` comes (a sender's copy of a raw block goes back to its pool).
      for (const [i, part] of parts.entries()) {
        this.bytesOut += part.length;
        this.paced.push(written !== undefined && i === parts.length - 1 ? { part, written } : { part });
        this.pacedBytes += part.length;
      }
      this.pump();
      return this.pacedBytes <= PACED_HIGH_WATER && !this.output.writableNeedDrain;
    }
    let ok = true;
    for (const [i, part] of parts.entries()) {
      this.bytesOut += part.length;
      ok = written !== undefined && i === parts.length - 1 ? this.output.write(part, () => written()) : this.output.write(part);
    }
    return ok;
  }

  /** Bytes sent but not yet handed to the operating system (0: the link has nothing to send). */
  get pendingOutput(): number {
    return this.output.writableLength + this.pacedBytes;
  }

  /** Resolves when the output can take more (or can never take more: the peer is gone). */
  drained(): Promise<void> {
    if (this.output.destroyed) return Promise.resolve();
    if (!this.output.writableNeedDrain && (this.pacer === undefined || this.pacedBytes <= PACED_HIGH_WATER)) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Ends the output side once everything queued is written. What the rate limit still
   * holds goes at once: the session is over, and a peer gone or a tiny limit must not
   * keep this end alive (at most the high-water mark and one frame are held).
   */
  endOutput(): Promise<void> {
    return new Promise((resolve) => {
      if (this.output.writableEnded || this.output.destroyed) return resolve();
      clearTimeout(this.pacingTimer);
      this.pacingTimer = undefined;
      this.pacer = undefined;
      for (const { part, written } of this.paced) {
        if (written !== undefined) this.output.write(part, () => written());
        else this.output.write(part);
      }
      this.paced = [];
      this.pacedBytes = 0;
      this.output.end(() => resolve());
    });
  }
}
