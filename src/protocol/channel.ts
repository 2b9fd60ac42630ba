/**
 * A framed, counted, two-way message channel over a byte stream pair: the stdin
 * and stdout of an agent, the pipes of a child process, or in-memory streams in
 * tests. It never pauses its input for the application: every stream above it is
 * credit-bounded, so reading always goes on and replies cannot deadlock behind data.
 */
import type { Readable, Writable } from 'node:stream';
import { ProtocolError } from '../errors.js';
import { FrameDecoder, HANDSHAKE_FRAME_LIMIT, decodeMessage, encodeMessage, type Message } from './protocol.js';

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

export interface ChannelHandlers {
  message(message: Message): void;
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

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly handlers: ChannelHandlers,
    frameLimit = HANDSHAKE_FRAME_LIMIT,
    private readonly stallMs = FRAME_STALL_MS,
  ) {
    this.decoder = new FrameDecoder(frameLimit);
    input.on('data', (chunk: Buffer) => this.receive(chunk));
    input.on('end', () => {
      const partial = this.decoder.pendingBytes;
      this.finish(partial > 0 ? new InputLostError(`stream ended inside a frame (${partial} bytes of it received)`) : undefined);
    });
    input.on('error', (error: Error) => this.finish(new InputLostError(`input failed: ${error.message}`, {}, { cause: error })));
    input.on('close', () => this.finish(undefined));
    output.on('drain', () => this.releaseDrainWaiters());
    output.on('error', () => {
      // A broken pipe shows up as the input closing too; release writers so nothing hangs.
      this.releaseDrainWaiters();
    });
    output.on('close', () => this.releaseDrainWaiters());
    // An input already gone emits nothing more: a child process that could not be
    // started (ssh, node or sudo not found) has its pipes destroyed at once, possibly
    // before this channel exists. Notice it, or the session waits 120 s for a HELLO.
    if (input.destroyed) process.nextTick(() => this.finish(undefined));
  }

  setFrameLimit(limit: number): void {
    this.decoder.setLimit(limit);
  }

  private receive(chunk: Buffer): void {
    if (this.ended) return;
    this.bytesIn += chunk.length;
    let bodies: Buffer[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (error) {
      this.finish(error as ProtocolError);
      return;
    }
    this.watchForStall();
    for (const body of bodies) {
      if (this.ended) return;
      let message: Message;
      try {
        message = decodeMessage(body);
      } catch (error) {
        this.finish(error as ProtocolError);
        return;
      }
      this.handlers.message(message);
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
    let ok = true;
    for (const [i, part] of parts.entries()) {
      this.bytesOut += part.length;
      ok = written !== undefined && i === parts.length - 1 ? this.output.write(part, () => written()) : this.output.write(part);
    }
    return ok;
  }

  /** Resolves when the output can take more (or can never take more: the peer is gone). */
  drained(): Promise<void> {
    if (!this.output.writableNeedDrain || this.output.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Ends the output side once everything queued is written. */
  endOutput(): Promise<void> {
    return new Promise((resolve) => {
      if (this.output.writableEnded || this.output.destroyed) return resolve();
      this.output.end(() => resolve());
    });
  }
}
