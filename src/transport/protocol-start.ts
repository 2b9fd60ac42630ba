/**
 * The start of the protocol on the agent's stdout. A remote login shell may print a
 * banner (a "Welcome", a fortune, an echo in ~/.bashrc) on stdout before it runs the
 * bootstrap; read as frames, those bytes give nonsense lengths. So the bootstrap
 * writes START_MARKER first, and the client skips whatever came before it: shown with
 * --debug, never interpreted. If the marker never comes, the agent did not start, and
 * the bytes received instead are the best clue there is to why.
 */
import { PassThrough, type Readable } from 'node:stream';
import { BORROWED_CHUNK } from '../protocol/channel.js';
import { quoteRawBytes } from '../report/quote.js';

/** Written by the bootstrap to its stdout before anything else; the protocol follows it. */
export const START_MARKER = Buffer.from('\x00basyn-agent-start\n', 'latin1');

/**
 * Bytes the client reads while it waits for the marker. A banner is a few lines; a
 * remote side that sends more than this without the marker is not going to start the
 * agent, and reading on would only hold the run.
 */
export const PREAMBLE_LIMIT = 64 * 1024;

/**
 * How long the client waits for the marker once the remote side has printed something
 * else and gone quiet. The bootstrap writes the marker as the first thing node does, so
 * a shell that printed and then waits (a prompt, a `read`, a menu in ~/.bashrc) is
 * not going to run it; without this the run would wait for the handshake timeout
 * (two minutes). Long enough for a slow host to start node after its banner.
 */
export const QUIET_AFTER_OUTPUT_MS = 20_000;

/** How much of the skipped text --debug shows, and of its first line an error shows. */
const SHOWN_BYTES = 1024;
const FIRST_LINE_BYTES = 200;

export type StartState = 'waiting' | 'started' | 'ended' | 'overflowed' | 'quiet';

/**
 * Wraps the agent's stdout: `input` carries only what follows the marker. Until the
 * marker comes, the bytes before it are kept (bounded by PREAMBLE_LIMIT plus one
 * chunk); when the source ends or passes the limit first, `input` ends and `state`
 * says why. A source that reads into a reused buffer (BORROWED_CHUNK) is passed on as
 * such, synchronously: its chunks are never kept.
 */
export class ProtocolStart {
  readonly input: Readable;
  state: StartState = 'waiting';
  /** Bytes received before the marker (all of them, up to the limit). */
  preamble: Buffer = Buffer.alloc(0);

  constructor(
    source: Readable,
    handlers: {
      /** The marker came after `preamble.length` > 0 bytes of something else. */
      skipped?: (preamble: Buffer) => void;
      /** More than the limit came without a marker: the agent will not start. */
      overflowed?: () => void;
      /** Something came, then nothing for `quietMs`: the agent will not start. */
      quiet?: () => void;
    } = {},
    private readonly limit = PREAMBLE_LIMIT,
    private readonly quietMs = QUIET_AFTER_OUTPUT_MS,
  ) {
    const output = new PassThrough();
    this.input = output;
    let searchFrom = 0;
    const forward = (chunk: Buffer, borrowed: boolean): void => {
      // A borrowed chunk goes straight to whoever listens for it, once all queued before
      // it has been read. Until then (the channel is made once the run has opened its
      // other device, and the agent's HELLO may come first) a copy of it is queued.
      const direct = borrowed && output.listenerCount(BORROWED_CHUNK) > 0 && output.readableLength === 0 && output.writableLength === 0;
      if (direct) output.emit(BORROWED_CHUNK, chunk);
      else if (!output.write(borrowed ? Buffer.from(chunk) : chunk)) source.pause();
    };
    output.on('drain', () => source.resume());
    let quietTimer: NodeJS.Timeout | undefined;
    const giveUp = (state: 'overflowed' | 'quiet'): void => {
      clearTimeout(quietTimer);
      this.state = state;
      source.removeListener('data', waitForMarker);
      source.removeListener(BORROWED_CHUNK, waitForBorrowed);
      source.destroy();
      (state === 'quiet' ? handlers.quiet : handlers.overflowed)?.();
      output.end();
    };
    const waitForMarker = (chunk: Buffer, borrowed = false): void => {
      clearTimeout(quietTimer);
      this.preamble = this.preamble.length === 0 && !borrowed ? chunk : Buffer.concat([this.preamble, chunk]);
      const at = this.preamble.indexOf(START_MARKER, searchFrom);
      if (at >= 0) {
        const rest = this.preamble.subarray(at + START_MARKER.length);
        this.preamble = this.preamble.subarray(0, at);
        this.state = 'started';
        source.removeListener('data', waitForMarker);
        source.removeListener(BORROWED_CHUNK, waitForBorrowed);
        if (this.preamble.length > 0) handlers.skipped?.(this.preamble);
        if (borrowed) source.on(BORROWED_CHUNK, (c: Buffer) => forward(c, true));
        else source.on('data', (c: Buffer) => forward(c, false));
        if (rest.length > 0) forward(rest, borrowed);
        return;
      }
      // The marker may be split across chunks: search again from where it could begin.
      searchFrom = Math.max(0, this.preamble.length - START_MARKER.length + 1);
      if (this.preamble.length > this.limit) {
        giveUp('overflowed');
        return;
      }
      quietTimer = setTimeout(() => giveUp('quiet'), this.quietMs);
      // The timer must not keep a process alive that has nothing else to do.
      quietTimer.unref();
    };
    const waitForBorrowed = (chunk: Buffer): void => waitForMarker(chunk, true);
    source.on('data', waitForMarker);
    source.on(BORROWED_CHUNK, waitForBorrowed);
    const ended = (): void => {
      clearTimeout(quietTimer);
      if (this.state === 'waiting') this.state = 'ended';
      if ((this.state === 'ended' || this.state === 'started') && !output.writableEnded) output.end();
    };
    source.on('end', ended);
    // A process that could not be started closes its pipes without an 'end'.
    source.on('close', ended);
    source.on('error', (error) => {
      if (this.state === 'waiting' || this.state === 'started') output.destroy(error);
    });
  }

  /** With --debug: what the remote side printed before the agent started. */
  describeSkipped(): string {
    return `skipped ${this.preamble.length} bytes that the remote side wrote on stdout before the agent started: ${quoteRawBytes(this.preamble, SHOWN_BYTES)}`;
  }

  /** Why the agent did not start, from what came instead of the marker; undefined if nothing came. */
  describeFailure(): string | undefined {
    if (this.preamble.length === 0 || this.state === 'waiting' || this.state === 'started') return undefined;
    const newline = this.preamble.indexOf(0x0a);
    const firstLine = this.preamble.subarray(0, newline >= 0 ? newline + 1 : this.preamble.length);
    const bytes = `${this.preamble.length} byte${this.preamble.length === 1 ? '' : 's'}`;
    const what = this.state === 'overflowed'
      ? `more than ${this.limit} bytes without it`
      : this.state === 'quiet'
        ? `${bytes}, then nothing for ${this.quietMs / 1000} s`
        : `${bytes}, then its output ended`;
    return `instead of basyn's start marker its output began with ${quoteRawBytes(firstLine, FIRST_LINE_BYTES)} (${what})`;
  }
}
