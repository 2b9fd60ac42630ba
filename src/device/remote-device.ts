/**
 * The protocol client: a Device whose bytes live behind an agent. Every call maps
 * to requests that are pipelined, never awaited one by one: digest and block streams
 * run ahead under credits, writes are compressed on the thread pool and sent within a
 * bounded window, and only flush() waits for the agent.
 */
import type { Readable, Writable } from 'node:stream';
import { BasynError, DeviceError, ProtocolError, TransportError } from '../errors.js';
import { quoteName, quoteText } from '../report/quote.js';
import type { HashAlgorithm } from '../hash/hash-algorithms.js';
import { decodeBlock, lendBlock, type EncodedBlock } from '../protocol/block-codec.js';
import { codecsCapability, codecsOf } from '../protocol/capabilities.js';
import { CodecChooser, CodecTally, codecLabel, localEncodings, openCodecOf, type CodecUse, type CompressRequest } from '../protocol/codec-policy.js';
import { Channel, InputLostError } from '../protocol/channel.js';
import {
  DeviceKind, Encoding, ErrorCode, MIN_PROTOCOL_VERSION, MessageType, NO_OFFSET, PROTOCOL_MAGIC, PROTOCOL_VERSION,
  frameLimitFor, messageName, type Message,
} from '../protocol/protocol.js';
import { BoundedWindow, type WindowLimits } from '../util/bounded-window.js';
import { codecThreads } from '../protocol/codec-threads.js';
import { NOTHING_TO_RELEASE, SLAB_WORTHWHILE, SlabPool } from '../util/slab-pool.js';
import { VERSION } from '../version.js';
import type { Block, BlockDigest, Device, DeviceStatus, DigestOptions, WriteOptions } from './device.js';
import { PIECE_BYTES, piecesOf, readInPieces } from './pieces.js';

/** Digests the agent may send ahead of the engine. */
const DIGEST_CREDIT = 4096;
/**
 * Bytes of blocks a read stream may send ahead of the engine: enough for 1 Gbit/s at
 * 100 ms of round trip. At 32 MiB, node 20's command of a 1 GiB compressible PULL
 * through a local agent (where the credit fills) peaked at 151-159 MiB; at 16, 98-100,
 * at 8, 87-90, at the same speed; node 24's over ssh reached 150 at 16 under a loaded
 * CI run...
 */
const BLOCK_CREDIT_BYTES = 12 * 1024 * 1024;
/** ...and blocks: each one received is a frame and its objects here until decoded. */
const BLOCK_CREDIT_ITEMS = 1024;
/**
 * Writes being compressed or sent at once: raw bytes, and writes (a zero marker weighs
 * nothing on the wire but is one more object here). A borrowed block is its caller's
 * again once a codec thread holds it (write()), so what the window keeps in memory
 * here is mostly compressed payloads queued for the link: room for a block in each
 * codec thread and two for the link, at least 4 MiB (and so four 1 MiB blocks on two
 * cores), at most 8 MiB (a piece compressing while one is sent). 8 MiB for every block
 * size cost node 24's command 7 MiB more for no speed (a 1 GiB mixed COPY over ssh,
 * 3 runs each); 16 held more memory for no speed (engine/sync.ts).
 */
export function writeWindowFor(blockSize: number): WindowLimits {
  const piece = Math.min(Math.max(blockSize, 1), PIECE_BYTES);
  const MiB = 1024 * 1024;
  return { bytes: Math.min(8 * MiB, Math.max(4 * MiB, (codecThreads() + 2) * piece)), items: 256 };
}
/** The slabs DATA frames are joined into (FrameDecoder's FrameReuse): the largest frame fits in one. */
const DATA_FRAME_SLAB_BYTES = PIECE_BYTES + 64 * 1024;
const HANDSHAKE_TIMEOUT_MS = 120_000;
/**
 * How long close() waits for queued writes to leave before it gives up on an agent
 * that does not read them (stopped, or thrashing) and ends it: closing never waits
 * for ever, whatever the agent does.
 */
const CLOSE_DRAIN_MS = 5000;

/** The byte streams to an agent, and what can be said when they break. */
export interface AgentLink {
  readonly input: Readable;
  readonly output: Writable;
  /** "host backup.example" or "this machine". */
  readonly where: string;
  /** Why the link broke, once it has (waits briefly for the process to exit). */
  explainLoss(): Promise<string>;
  /**
   * Ends the agent after BYE (or kills it when it does not go). With `wait` false the
   * process is left to exit on its own: used when every write is already durable.
   */
  close(options?: { wait?: boolean }): Promise<void>;
}

export interface RemoteDeviceOptions {
  path: string;
  writable: boolean;
  hash: HashAlgorithm;
  /** How blocks are compressed, by whichever end sends them (--compress, --zlevel). */
  compress: CompressRequest;
  /** Wire bytes per second for the sending end (--bwlimit); 0 or undefined: no limit. */
  rateLimit?: number;
  /** The largest block or chunk this session will move. */
  blockSize: number;
  /** Create or extend the (regular file) device to this size (--create). */
  createSize?: number;
  label?: string;
}

/** A block arrives as its frame; it is decoded when the engine takes it (`decode`). */
type Item = { kind: 'message'; message: Message } | { kind: 'block'; decode: () => Promise<Block> };

interface StreamState {
  items: Item[];
  wake: (() => void) | undefined;
}

interface Pending {
  /** `release`: the answer's frame memory back to the channel (a DATA in a slab); safe to ignore. */
  resolve(m: Message, release?: () => void): void;
  reject(e: unknown): void;
}

export class RemoteDevice implements Device {
  readonly side = 'remote' as const;
  readonly inProcess = false;
  readonly label: string;
  size = 0;
  isBlockDevice = false;
  software = '';
  private readonly channel: Channel;
  private readonly pending = new Map<number, Pending>();
  /** READs whose answer goes into the caller's memory: their DATA frames go into slabs. */
  private readonly readsInto = new Set<number>();
  private readonly streams = new Map<number, StreamState>();
  private readonly writes: BoundedWindow;
  /** Blocks of a read stream decoded from zstd, until the engine has written them (Block.release). */
  private readonly decodedSlabs = new SlabPool(PIECE_BYTES);
  /** Copies of borrowed blocks that go raw or to zlib (LentBlock.copy), until sent. */
  private readonly copies = new SlabPool(PIECE_BYTES);
  private nextId = 1;
  private failure: Error | undefined;
  private closing = false;
  private helloWaiter: Pending | undefined;
  /** Chooses the codec of WRITEs, once the agent's HELLO said what it decodes. */
  private codecs: CodecChooser | undefined;
  /** What the DATA received was encoded with (the agent chose the levels). */
  private readonly received = new CodecTally();
  /** Set while the reason for a lost link is being found out; close() waits for it. */
  private explaining: Promise<void> | undefined;
  private lastStatus: DeviceStatus = { size: 0, io: { bytesRead: 0, bytesWritten: 0 } };
  /** True while no request, stream or write was made since the last FLUSHED. */
  private statusFresh = false;

  private constructor(
    private readonly link: AgentLink,
    private readonly options: RemoteDeviceOptions,
  ) {
    this.label = options.label ?? `remote device ${quoteName(options.path)}`;
    this.writes = new BoundedWindow(writeWindowFor(options.blockSize));
    this.channel = new Channel(link.input, link.output, {
      message: (m, release) => this.receive(m, release),
      closed: (error) => void this.lost(error),
    }, undefined, undefined, {
      type: MessageType.Data,
      pool: new SlabPool(DATA_FRAME_SLAB_BYTES),
      fromBytes: SLAB_WORTHWHILE,
      // A read stream's blocks (given back once written), and the answers of READs that
      // put their block into the caller's memory (given back at once, once decoded). Not
      // the answer of a READ kept as its block: slab memory kept so stayed the
      // collector's (node 20's command of a 1 GiB SYNC PULL: 157-165 MiB with every DATA
      // in slabs, 147-150 with these only).
      // DATA's body: u8 type, u32 id, u64 offset, u32 raw length, u8 encoding.
      wants: (byte) => {
        const id = ((byte(1) << 24) | (byte(2) << 16) | (byte(3) << 8) | byte(4)) >>> 0;
        return this.streams.has(id) || this.readsInto.has(id);
      },
    });
  }

  get path(): string {
    return this.options.path;
  }

  /** Bytes received from and sent to the agent so far (the --stat Rx and Tx). */
  get traffic(): { rx: number; tx: number } {
    return { rx: this.channel.bytesIn, tx: this.channel.bytesOut };
  }

  /** What each codec and level carried so far: WRITEs sent, DATA received. */
  get codecUse(): { sent: Record<string, CodecUse>; received: Record<string, CodecUse> } {
    return { sent: this.codecs?.tally.toJSON() ?? {}, received: this.received.toJSON() };
  }

  /** Performs the handshake and opens the device on the agent. */
  static async connect(link: AgentLink, options: RemoteDeviceOptions): Promise<RemoteDevice> {
    const device = new RemoteDevice(link, options);
    try {
      await device.handshake();
    } catch (error) {
      await device.abandon();
      throw error;
    }
    return device;
  }

  /**
   * Both HELLOs and the OPEN go out at once, without waiting for the agent's HELLO:
   * the handshake costs one round trip, not two. The agent checks our HELLO before
   * it reads the OPEN; we check its HELLO before we trust the OPENED.
   */
  private async handshake(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TransportError(`no answer from the agent on ${this.link.where} within ${HANDSHAKE_TIMEOUT_MS / 1000} s`)), HANDSHAKE_TIMEOUT_MS);
    });
    try {
      const greeting = new Promise<Message>((resolve, reject) => (this.helloWaiter = { resolve, reject }));
      this.channel.send({
        type: MessageType.Hello, magic: PROTOCOL_MAGIC, version: PROTOCOL_VERSION,
        minVersion: MIN_PROTOCOL_VERSION, software: `basyn ${VERSION} node ${process.version}`,
        capabilities: [codecsCapability(localEncodings())],
      });
      const { path, writable, hash, blockSize, compress } = this.options;
      const createSize = this.options.createSize ?? 0;
      const rateLimit = this.options.rateLimit ?? 0;
      // The limit binds the agent's DATA (PULL) through OPEN, and our WRITEs (PUSH) here.
      if (writable) this.channel.setRateLimit(rateLimit);
      const opening = this.request((id) => ({
        type: MessageType.Open, id, writable, hashId: hash.id, codec: openCodecOf(compress.compress), level: compress.compress === 'zlib' || compress.compress === 'zstd' ? compress.level : 0,
        rateLimit: writable ? 0 : rateLimit, blockSize, createSize, path,
      }));
      opening.catch(() => undefined); // awaited below, after the HELLO check
      const hello = await Promise.race([greeting, timeout]);
      if (hello.type !== MessageType.Hello || hello.magic !== PROTOCOL_MAGIC) {
        throw new ProtocolError(`the agent on ${this.link.where} did not greet with HELLO`);
      }
      if (hello.version < MIN_PROTOCOL_VERSION || hello.minVersion > PROTOCOL_VERSION) {
        throw new ProtocolError(
          `protocol version mismatch: this basyn speaks ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}, ` +
            `the agent on ${this.link.where} speaks ${hello.minVersion}..${hello.version} (${hello.software})`,
        );
      }
      this.software = hello.software;
      this.codecs = new CodecChooser(compress, codecsOf(hello.capabilities), `the agent on ${this.link.where} (${hello.software})`, blockSize);
      const opened = await Promise.race([opening, timeout]);
      if (opened.type !== MessageType.Opened) throw this.unexpected(opened, 'OPENED');
      this.size = opened.size;
      this.isBlockDevice = opened.kind === DeviceKind.BlockDevice;
      this.channel.setFrameLimit(frameLimitFor(blockSize));
    } finally {
      clearTimeout(timer);
    }
  }

  /** `release`: the frame's memory back to the channel (ChannelHandlers.message), for DATA. */
  private receive(m: Message, release: () => void): void {
    if (this.failure !== undefined) return;
    try {
      this.route(m, release);
    } catch (error) {
      this.fatal(error instanceof Error ? error : new ProtocolError(String(error)));
    }
  }

  private route(m: Message, release: () => void): void {
    if (this.helloWaiter !== undefined) {
      const w = this.helloWaiter;
      this.helloWaiter = undefined;
      w.resolve(m);
      return;
    }
    switch (m.type) {
      case MessageType.Error:
        throw this.agentError(m);
      case MessageType.Opened:
      case MessageType.DigestList:
      case MessageType.Flushed:
      case MessageType.UndoState:
        return this.settle(m.id, m);
      case MessageType.Data: {
        const stream = this.streams.get(m.id);
        this.received.add(codecLabel(m.encoding), m.rawLength, m.payload.length);
        if (stream !== undefined) {
          // A stream's blocks come in pieces: a longer one is no block of it, and no
          // memory is taken for it on its word.
          if (m.rawLength > PIECE_BYTES) throw new ProtocolError(`DATA of ${m.rawLength} bytes in a stream of pieces of at most ${PIECE_BYTES}`);
          // Decoded when the engine takes it, not as it arrives: the blocks the agent may
          // send ahead (BLOCK_CREDIT_BYTES) then wait compressed. Into reused memory,
          // given back through the block's `release` once the engine has written it: a
          // fresh buffer per block was garbage node 24 frees late (its command of a 1 GiB
          // compressible PULL peaked at 147-156 MiB; through a local agent, where the
          // credit fills, node 20's at 155-159 with every block decoded on arrival).
          const decode = (): Promise<Block> => {
            const target = m.encoding === Encoding.Zstd && m.rawLength >= SLAB_WORTHWHILE ? this.decodedSlabs.take(m.rawLength) : undefined;
            return decodeBlock(m.encoding, m.payload, m.rawLength, target?.buffer).then(
              (data): Block => {
                if (data.buffer === m.payload.buffer) return { offset: m.offset, data, release }; // raw: the frame itself
                release();
                if (target !== undefined && data.buffer === target.buffer.buffer) return { offset: m.offset, data, release: target.release };
                target?.release();
                return { offset: m.offset, data };
              },
              (error: unknown) => {
                release();
                target?.release();
                throw error;
              },
            );
          };
          this.push(stream, { kind: 'block', decode });
          return;
        }
        return this.settle(m.id, m, release);
      }
      case MessageType.Digests:
      case MessageType.End: {
        const stream = this.streams.get(m.id);
        if (stream === undefined) throw new ProtocolError(`${messageName(m.type)} for unknown stream ${m.id}`);
        this.push(stream, { kind: 'message', message: m });
        return;
      }
      default:
        throw new ProtocolError(`unexpected ${messageName(m.type)} from the agent`);
    }
  }

  private push(stream: StreamState, item: Item): void {
    stream.items.push(item);
    const wake = stream.wake;
    stream.wake = undefined;
    wake?.();
  }

  private settle(id: number, m: Message, release?: () => void): void {
    const p = this.pending.get(id);
    if (p === undefined) throw new ProtocolError(`${messageName(m.type)} answers no request (id ${id})`);
    this.pending.delete(id);
    p.resolve(m, release);
  }

  private agentError(m: Extract<Message, { type: MessageType.Error }>): BasynError {
    const context = {
      side: 'remote' as const,
      device: this.options.path,
      operation: m.operation || undefined,
      offset: m.offset === NO_OFFSET ? undefined : m.offset,
    };
    if (m.code === ErrorCode.Protocol) return new ProtocolError(`the agent on ${this.link.where} refused the session: ${quoteText(m.message)}`, context);
    const where = this.link.where.startsWith('host ') ? ` on ${this.link.where}` : '';
    return new DeviceError(`${quoteText(m.message)}${where}`, context);
  }

  private unexpected(m: Message, wanted: string): ProtocolError {
    return new ProtocolError(`expected ${wanted} from the agent, got ${messageName(m.type)}`);
  }

  private fatal(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    const hello = this.helloWaiter;
    this.helloWaiter = undefined;
    hello?.reject(error);
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    for (const s of this.streams.values()) {
      const wake = s.wake;
      s.wake = undefined;
      wake?.();
    }
  }

  private async lost(error: ProtocolError | undefined): Promise<void> {
    if (this.failure !== undefined) return;
    if (this.closing && error === undefined) {
      this.fatal(new TransportError('session closed'));
      return;
    }
    if (error !== undefined && !(error instanceof InputLostError)) {
      this.fatal(new ProtocolError(`bad data from the agent on ${this.link.where}: ${error.message}`));
      return;
    }
    // Mark the failure at once, so nothing waits on a dead link; explain it when we can.
    const error2 = new TransportError(`connection to the agent on ${this.link.where} closed`);
    this.fatal(error2);
    this.explaining = this.link.explainLoss().then((why) => {
      error2.message += `: ${why}`;
    });
    await this.explaining;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private request(build: (id: number) => Message): Promise<Message> {
    return this.requestFrame(build).then(({ message }) => message);
  }

  /** The answer and a release for its frame's memory (see Pending). */
  private requestFrame(build: (id: number) => Message): Promise<{ message: Message; release: () => void }> {
    this.throwIfFailed();
    this.statusFresh = false;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: (message, release) => resolve({ message, release: release ?? NOTHING_TO_RELEASE }), reject });
      this.channel.send(build(id));
    });
  }

  private openStream(build: (id: number) => Message): { id: number; state: StreamState } {
    this.throwIfFailed();
    this.statusFresh = false;
    const id = this.nextId++;
    const state: StreamState = { items: [], wake: undefined };
    this.streams.set(id, state);
    this.channel.send(build(id));
    return { id, state };
  }

  private async nextItem(state: StreamState, signal?: AbortSignal): Promise<Item> {
    for (;;) {
      this.throwIfFailed();
      signal?.throwIfAborted();
      const item = state.items.shift();
      if (item !== undefined) return item;
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        state.wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  async *digests(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: DigestOptions): AsyncGenerator<BlockDigest> {
    const digestLength = this.options.hash.digestLength;
    const threads = Math.min(255, Math.max(0, options?.threads ?? 1));
    const { id, state } = this.openStream((id) => ({ type: MessageType.DigestStream, id, start, end, blockSize, credit: DIGEST_CREDIT, threads }));
    let expected = start;
    let outstanding = DIGEST_CREDIT;
    let consumed = 0;
    try {
      for (;;) {
        const item = await this.nextItem(state, signal);
        if (item.kind !== 'message') throw new ProtocolError('block data inside a digest stream');
        const m = item.message;
        if (m.type === MessageType.End) {
          if (expected !== end) throw new ProtocolError(`digest stream ended at offset ${expected}, before ${end}`);
          return;
        }
        if (m.type !== MessageType.Digests) throw this.unexpected(m, 'DIGESTS');
        const count = m.digests.length / digestLength;
        if (!Number.isInteger(count) || count === 0) throw new ProtocolError(`DIGESTS frame of ${m.digests.length} bytes for ${digestLength}-byte digests`);
        if (m.offset !== expected) throw new ProtocolError(`DIGESTS for offset ${m.offset}, expected ${expected}`);
        if (count > outstanding) throw new ProtocolError(`agent sent ${count} digests with ${outstanding} credits`);
        outstanding -= count;
        for (let i = 0; i < count; i++) {
          if (expected >= end) throw new ProtocolError(`digest past the end of the range (${end})`);
          const length = Math.min(blockSize, end - expected);
          yield { offset: expected, length, digest: m.digests.subarray(i * digestLength, (i + 1) * digestLength) };
          expected += length;
          if (++consumed >= DIGEST_CREDIT / 2) {
            this.channel.send({ type: MessageType.Credit, id, blocks: consumed });
            outstanding += consumed;
            consumed = 0;
          }
        }
      }
    } finally {
      this.streams.delete(id);
    }
  }

  async *blocks(start: number, end: number, blockSize: number, signal?: AbortSignal): AsyncGenerator<Block> {
    const credit = Math.max(2, Math.min(BLOCK_CREDIT_ITEMS, Math.floor(BLOCK_CREDIT_BYTES / blockSize)));
    const { id, state } = this.openStream((id) => ({ type: MessageType.ReadStream, id, start, end, blockSize, credit }));
    let expected = start;
    let outstanding = credit;
    let consumed = 0;
    try {
      for (;;) {
        const item = await this.nextItem(state, signal);
        if (item.kind === 'message') {
          if (item.message.type !== MessageType.End) throw this.unexpected(item.message, 'DATA or END');
          if (expected !== end) throw new ProtocolError(`block stream ended at offset ${expected}, before ${end}`);
          return;
        }
        if (--outstanding < 0) throw new ProtocolError('agent sent more blocks than it had credit for');
        const block = await item.decode();
        const length = Math.min(blockSize, end - expected);
        if (block.offset !== expected || block.data.length !== length) {
          throw new ProtocolError(`block at ${block.offset}+${block.data.length}, expected ${expected}+${length}`);
        }
        yield block;
        expected += length;
        if (++consumed >= credit / 2) {
          this.channel.send({ type: MessageType.Credit, id, blocks: consumed });
          outstanding += consumed;
          consumed = 0;
        }
      }
    } finally {
      this.streams.delete(id);
    }
  }

  async chunkDigests(offset: number, length: number, chunkSize: number): Promise<Buffer[]> {
    const m = await this.request((id) => ({ type: MessageType.ChunkDigests, id, offset, length, chunkSize }));
    if (m.type !== MessageType.DigestList) throw this.unexpected(m, 'DIGEST_LIST');
    const digestLength = this.options.hash.digestLength;
    const count = Math.ceil(length / chunkSize);
    if (m.digests.length !== count * digestLength) {
      throw new ProtocolError(`DIGEST_LIST of ${m.digests.length} bytes, expected ${count} digests of ${digestLength} bytes`);
    }
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) out.push(m.digests.subarray(i * digestLength, (i + 1) * digestLength));
    return out;
  }

  /**
   * `into`, when given, receives the block (the engine's reused memory, given back
   * through its write's `written`): the DATA frame, joined into the channel's slabs,
   * then goes back at once. A fresh frame per block kept as the block was garbage the
   * collector freed late (node 24's command of a 1 GiB SYNC PULL of compressible data
   * peaked at 165-171 MiB). A zero block is the shared zeros, never copied.
   */
  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    // A long block comes as pieces: neither end holds a frame of the whole block.
    if (length > PIECE_BYTES) return readInPieces(this, offset, length, into !== undefined && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length));
    const target = into !== undefined && into.length >= length ? into.subarray(0, length) : undefined;
    let id = 0;
    const answer = this.requestFrame((i) => {
      id = i;
      if (target !== undefined) this.readsInto.add(i);
      return { type: MessageType.Read, id: i, offset, length };
    });
    let m: Message;
    let release: () => void;
    try {
      ({ message: m, release } = await answer);
    } finally {
      this.readsInto.delete(id);
    }
    try {
      if (m.type !== MessageType.Data) throw this.unexpected(m, 'DATA');
      if (m.offset !== offset || m.rawLength !== length) {
        throw new ProtocolError(`DATA for ${m.offset}+${m.rawLength}, asked for ${offset}+${length}`);
      }
      const data = await decodeBlock(m.encoding, m.payload, length, target);
      if (target === undefined || m.encoding === Encoding.Zero) {
        // Kept as the block: a raw payload is the frame itself, fresh memory here.
        if (data.buffer !== m.payload.buffer) release();
        return data;
      }
      if (data.buffer !== target.buffer || data.byteOffset !== target.byteOffset) target.set(data);
      release();
      return target;
    } catch (error) {
      release();
      throw error;
    }
  }

  async write(offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    if (data.length > PIECE_BYTES) {
      // Pieces of a long block: small frames to encode, send and reassemble on the agent.
      // `written` comes once, after the last: each piece is borrowed until then.
      const written = options?.written;
      const each = written !== undefined ? { borrowed: true } : options;
      try {
        for (const p of piecesOf(offset, data.length)) await this.write(p.offset, data.subarray(p.offset - offset, p.offset - offset + p.length), each);
      } finally {
        written?.();
      }
      return;
    }
    // Compressed and sent after this returns. A borrowed buffer is lent to the codec
    // until it holds what it needs of it (block-codec.ts's LentBlock): a copy in reused
    // slabs, given back once sent, or the zstd thread's own copy; this returns then.
    // With `written` it is lent the same way, and this returns at once: `written` says
    // when it is free.
    const written = options?.written;
    const lends = options?.borrowed === true || written !== undefined;
    const { lent, freed } = lends ? lendBlock((block) => this.copies.copy(block)) : { lent: undefined, freed: undefined };
    const given = written !== undefined ? (void freed!.then(written), undefined) : freed;
    this.statusFresh = false;
    try {
      this.throwIfFailed();
      await this.writes.add(data.length, async () => {
        const codecs = this.codecs!;
        const t0 = performance.now();
        let encoded: EncodedBlock | undefined;
        try {
          encoded = await codecs.encode(data, lent);
          this.throwIfFailed();
        } catch (error) {
          encoded?.release?.();
          lent?.free();
          throw error;
        }
        const t1 = performance.now();
        const { encoding, payload } = encoded;
        // What auto reads (auto-codec.ts): the link had nothing to send while this block
        // compressed, or the block waited for the link once compressed.
        const linkIdle = this.channel.pendingOutput === 0;
        // The payload's memory goes back to its codec or pool once written out (block-codec.ts).
        if (!this.channel.send({ type: MessageType.Write, offset, rawLength: data.length, encoding, payload }, encoded.release)) {
          await codecs.waitForLink(this.channel.drained());
        }
        codecs.observe(0, linkIdle ? t1 - t0 : 0);
        this.throwIfFailed();
      });
    } catch (error) {
      lent?.free(); // never queued (the session had failed)
      throw error;
    }
    await given;
  }

  async flush(): Promise<void> {
    await this.writes.drain();
    const m = await this.request((id) => ({ type: MessageType.Flush, id }));
    if (m.type !== MessageType.Flushed) throw this.unexpected(m, 'FLUSHED');
    this.lastStatus = { size: m.size, io: { bytesRead: m.bytesRead, bytesWritten: m.bytesWritten } };
    this.statusFresh = this.pending.size === 0 && this.streams.size === 0 && this.writes.bytesInFlight === 0;
  }

  /** --undo kept by the agent, on its machine (UNDO_OPEN; src/delta/undo-recorder.ts). Before any write. */
  async openUndo(path: string): Promise<void> {
    const m = await this.request((id) => ({ type: MessageType.UndoOpen, id, path }));
    if (m.type !== MessageType.UndoState) throw this.unexpected(m, 'UNDO_STATE');
  }

  /** UNDO_FINISH: every write done and flushed, then the undo file completed; its figures. */
  async finishUndo(): Promise<{ entries: number; dataBytes: number; fileSize: number }> {
    await this.writes.drain();
    const m = await this.request((id) => ({ type: MessageType.UndoFinish, id }));
    if (m.type !== MessageType.UndoState) throw this.unexpected(m, 'UNDO_STATE');
    return { entries: m.entries, dataBytes: m.dataBytes, fileSize: m.fileSize };
  }

  /** The last FLUSHED's figures when nothing was asked of the agent since; else one FLUSH. */
  async status(): Promise<DeviceStatus> {
    if (!this.statusFresh) await this.flush();
    return this.lastStatus;
  }

  /** Says BYE and waits for the agent to exit; ends an agent that does not take its writes (and throws). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Everything acknowledged by a FLUSHED with nothing asked since: no need to wait
    // for the agent (or ssh) to exit, which would cost one more round trip.
    const settled = this.failure === undefined && this.statusFresh;
    if (this.failure === undefined) {
      const said = (async () => {
        await this.writes.drain().catch(() => undefined);
        this.channel.send({ type: MessageType.Bye });
        await this.channel.endOutput();
      })();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_DRAIN_MS)));
      const outcome = await Promise.race([said.then(() => 'said' as const), late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        // Its writes never left: the agent is ended (killed if it does not go), not waited for.
        said.catch(() => undefined);
        const error = new TransportError(`the agent on ${this.link.where} did not take its last writes within ${CLOSE_DRAIN_MS / 1000} s; the destination may be partly written`);
        this.fatal(error);
        await this.link.close({ wait: true });
        throw error;
      }
    }
    await this.link.close({ wait: !settled });
    await this.explaining;
  }

  /** Ends a session that failed before it was usable. */
  private async abandon(): Promise<void> {
    this.closing = true;
    await this.link.close();
    await this.explaining;
  }
}
