/**
 * The agent: serves one device to one client over a Channel. It runs on the remote
 * host (shipped through ssh) or as a local child process; it trusts nothing it
 * receives: every length is bounded by the frame limit agreed at OPEN, every range
 * is checked against the device size before any read or write.
 */
import type { Readable, Writable } from 'node:stream';
import { BasynError, DeviceError, ProtocolError } from '../errors.js';
import type { Device } from '../device/device.js';
import { LocalDevice, expandHome, type LocalDeviceOptions } from '../device/local-device.js';
import { hashById, knownHashIds, loadDigest, type DigestFunction, type HashAlgorithm } from '../hash/hash-algorithms.js';
import { UndoRecorder } from '../delta/undo-recorder.js';
import { fileCodecOf } from '../delta/file-codec.js';
import { decodeBlock, lendBlock, type CodecSetting, type EncodedBlock, type LentBlock } from '../protocol/block-codec.js';
import { codecsCapability, codecsOf } from '../protocol/capabilities.js';
import { CodecChooser, choiceOfOpenCodec, localEncodings } from '../protocol/codec-policy.js';
import { ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL } from '../protocol/zstd.js';
import { Channel, InputLostError } from '../protocol/channel.js';
import { PIECE_BYTES } from '../device/pieces.js';
import { NOTHING_TO_RELEASE, SLAB_WORTHWHILE, SlabPool, privateCopy, type PooledCopy } from '../util/slab-pool.js';
import {
  DeviceKind, Encoding, ErrorCode, MIN_PROTOCOL_VERSION, MessageType, NO_OFFSET, OpenCodec, PROTOCOL_MAGIC, PROTOCOL_VERSION,
  HANDSHAKE_FRAME_LIMIT, frameLimitFor, messageName, type Message,
} from '../protocol/protocol.js';

/**
 * Received-but-unwritten writes the agent holds before it stops reading its input: by
 * bytes, and by count (a zero marker is a few bytes on the wire, but each write held
 * is a promise, its closures and its buffer here).
 */
const WRITE_BACKLOG = { bytes: 32 * 1024 * 1024, items: 1024 };
/**
 * The slabs WRITE frames are joined into (protocol.ts, FrameDecoder): two of the
 * largest frames the session allows (at most a piece of a long block) fit in one. Sized
 * for the session, as a frame's slab is taken when its first bytes come: a client that
 * announces a long WRITE and sends little makes the agent hold no more than one slab
 * its block size calls for anyway. They pay only
 * where zstd decompresses into reused memory too (DECODED_SLAB_BYTES): with node's own
 * zstd writing fresh output, the slabs kept at their peak came on top of that garbage
 * (node 24's agent of a 1 GiB mixed COPY over ssh peaked at 171 MiB with them, 144
 * without); zstd-builtin-engine.ts now decompresses into given memory with either.
 */
function writeFrameSlabBytes(frameLimit: number): number {
  return 2 * Math.min(frameLimit, PIECE_BYTES) + 64 * 1024;
}
/** The slabs zstd payloads are decompressed into (zstd.ts, on the agent's main thread). */
const DECODED_SLAB_BYTES = 2 * PIECE_BYTES;
/** Blocks a read stream compresses at once (libuv's pool has 4 threads by default)... */
const ENCODE_AHEAD = 4;
/** ...and bytes of them: big blocks are compressed one or two at a time. */
const ENCODE_AHEAD_BYTES = 16 * 1024 * 1024;

export interface AgentOptions {
  software: string;
  /**
   * Opens the device (tests wrap it to inject faults at chosen offsets, exercising
   * the real agent, protocol and engine); default LocalDevice.open.
   */
  openDevice?: (path: string, options: LocalDeviceOptions) => Promise<Device>;
  /** Called with a line for the agent's stderr (debug detail). */
  log?: (line: string) => void;
  /**
   * Called once the client is known to be gone: its input ended without BYE or failed,
   * or the output broke. Nothing the agent still does can reach anyone.
   */
  clientGone?: (why: string) => void;
}

interface Stream {
  credit: number;
  wake: (() => void) | undefined;
}

export class AgentServer {
  private readonly channel: Channel;
  private device: Device | undefined;
  private digest: DigestFunction | undefined;
  /** How DATA is compressed (set at OPEN). */
  private codecs: CodecChooser | undefined;
  /** The encodings the client's HELLO says it decodes. */
  private clientCodecs: ReadonlySet<Encoding> = new Set();
  private hash: HashAlgorithm | undefined;
  private writable = false;
  /**
   * --undo (UNDO_OPEN): the undo file is kept here, beside the old data, by the same
   * code as a local run's. No WRITE may arrive while it is being created or once it is
   * completed: such a write would not be covered by it.
   */
  private undoState: 'none' | 'opening' | 'open' | 'finished' = 'none';
  private undo: UndoRecorder | undefined;
  private readonly decodedSlabs = new SlabPool(DECODED_SLAB_BYTES);
  /** WRITE frames, joined as they arrive (sized for the session at OPEN). */
  private readonly writeFrames = new SlabPool(writeFrameSlabBytes(HANDSHAKE_FRAME_LIMIT));
  /** What READs read into, until the codec lets the block go. */
  private readonly readTargets = new SlabPool(PIECE_BYTES);
  /** Copies of read blocks that go raw or to zlib (LentBlock.copy), until sent. */
  private readonly sentCopies = new SlabPool(PIECE_BYTES);
  private undoOpening: Promise<void> | undefined;
  private writesSeen = false;
  /** How the undo file's payloads are compressed (from OPEN's codec and level). */
  private undoCodec: CodecSetting = { codec: 'none', level: 0 };
  private hashLength = 0;
  private blockLimit = 0;
  private helloSeen = false;
  private openSeen = false;
  /** Settles when the OPEN in progress (if any) has finished, whatever its outcome. */
  private opening: Promise<void> | undefined;
  private readonly streams = new Map<number, Stream>();
  private readonly pendingWrites = new Set<Promise<void>>();
  private backlog = 0;
  private inputPaused = false;
  /** Settles once every WRITE payload received so far has decoded (rejects if one did not). */
  private decodedSoFar: Promise<void> = Promise.resolve();
  private stopping = false;
  /** The client is gone: what is left to do is only to let go of the device. */
  private abandoned = false;
  private byeSeen = false;
  private resolveDone!: (code: number) => void;
  /** Resolves with the process exit code once the session is over. */
  readonly done: Promise<number>;

  constructor(
    private readonly input: Readable,
    output: Writable,
    private readonly options: AgentOptions,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.channel = new Channel(input, output, {
      message: (m, release) => this.dispatch(m, release),
      closed: (error) => {
        if (error === undefined) {
          if (!this.byeSeen) this.abandon('the client closed the session without BYE', 0);
          void this.stop(0);
        } else if (error instanceof InputLostError) {
          // Nobody is left to read an ERROR: just stop.
          this.abandon(error.message, 1);
        } else {
          // A malformed frame: say why before stopping (the output still works).
          void this.fail(0, error);
        }
      },
    }, undefined, undefined, { type: MessageType.Write, pool: this.writeFrames, fromBytes: SLAB_WORTHWHILE });
    // Nobody can hear the agent any more once its output breaks (the client, ssh or a
    // pipe in between went away): end the session, or streams would wait for credits
    // that can never come and the agent would outlive its client.
    output.on('error', (error: Error) => this.abandon(`output failed: ${error.message}`, 1));
    this.channel.send({
      type: MessageType.Hello, magic: PROTOCOL_MAGIC, version: PROTOCOL_VERSION,
      minVersion: MIN_PROTOCOL_VERSION, software: options.software, capabilities: [codecsCapability(localEncodings())],
    });
  }

  /** `release`: the frame's memory, given back once a WRITE's payload is written (see Channel). */
  private dispatch(m: Message, release: () => void): void {
    if (this.stopping) return;
    try {
      this.handle(m, release);
    } catch (error) {
      void this.fail(0, error);
    }
  }

  private handle(m: Message, release: () => void): void {
    if (!this.helloSeen) {
      if (m.type !== MessageType.Hello) throw new ProtocolError(`expected HELLO first, got ${messageName(m.type)}`);
      if (m.magic !== PROTOCOL_MAGIC) throw new ProtocolError('client HELLO has a wrong magic number');
      if (m.version < MIN_PROTOCOL_VERSION || m.minVersion > PROTOCOL_VERSION) {
        throw new ProtocolError(
          `protocol version mismatch: client speaks ${m.minVersion}..${m.version} (${m.software}), ` +
            `agent speaks ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION} (${this.options.software})`,
        );
      }
      this.clientCodecs = codecsOf(m.capabilities);
      this.helloSeen = true;
      return;
    }
    if (m.type === MessageType.Open) {
      // Checked here, not once the device is open: two OPENs in one read would both
      // open a device, and the first would never be closed.
      if (this.openSeen) throw new ProtocolError('second OPEN in one session');
      this.openSeen = true;
      this.codecs = this.codecChooser(m.codec, m.level, m.blockSize);
      this.undoCodec = fileCodecOf({ compress: choiceOfOpenCodec(m.codec), level: m.level });
      const opening = this.open(m.id, m.path, m.writable, m.hashId, m.blockSize, m.createSize, m.rateLimit);
      this.opening = opening.then(() => undefined, () => undefined);
      void opening.catch((e) => this.fail(m.id, e));
      return;
    }
    if (m.type === MessageType.Bye) {
      this.byeSeen = true;
      void this.stop(0);
      return;
    }
    const device = this.device;
    if (device === undefined) throw new ProtocolError(`${messageName(m.type)} before OPEN`);
    switch (m.type) {
      case MessageType.DigestStream:
        this.checkBlockSize(m.blockSize);
        this.checkRange(m.start, m.end - m.start, 'DIGEST_STREAM');
        this.startStream(m.id, m.credit, (s) => this.runDigestStream(m.id, s, device, m.start, m.end, m.blockSize, m.threads));
        return;
      case MessageType.ReadStream:
        this.checkBlockSize(m.blockSize);
        this.checkRange(m.start, m.end - m.start, 'READ_STREAM');
        this.startStream(m.id, m.credit, (s) => this.runReadStream(m.id, s, device, m.start, m.end, m.blockSize));
        return;
      case MessageType.Credit: {
        const s = this.streams.get(m.id);
        if (s === undefined) return; // the stream may have just ended
        s.credit += m.blocks;
        s.wake?.();
        return;
      }
      case MessageType.ChunkDigests:
        this.checkBlockSize(m.length);
        if (m.chunkSize < 1 || m.chunkSize > m.length) throw new ProtocolError(`CHUNK_DIGESTS chunk size ${m.chunkSize} is out of range`);
        this.checkRange(m.offset, m.length, 'CHUNK_DIGESTS');
        // The device reads a few chunks at a time, not the whole (possibly 64 MiB) block.
        void device.chunkDigests(m.offset, m.length, m.chunkSize).then(
          (digests) => this.channel.send({ type: MessageType.DigestList, id: m.id, digests: Buffer.concat(digests) }),
          (e) => this.fail(m.id, e),
        );
        return;
      case MessageType.Read:
        this.checkBlockSize(m.length);
        this.checkRange(m.offset, m.length, 'READ');
        void this.readAndEncode(device, m.offset, m.length)
          .then(
            (b) => this.channel.send({ type: MessageType.Data, id: m.id, offset: m.offset, rawLength: m.length, encoding: b.encoding, payload: b.payload }, b.release),
            (e) => this.fail(m.id, e),
          );
        return;
      case MessageType.Write:
        this.checkBlockSize(m.rawLength);
        this.checkRange(m.offset, m.rawLength, 'WRITE');
        // Payloads that can be checked at once are, so the WRITEs behind a bad one in
        // the same read are refused rather than written (a zlib payload is checked when
        // it inflates, and no write queued after it lands once the session has failed).
        checkPayloadLength(m.encoding, m.payload.length, m.rawLength);
        if (this.undoState === 'opening' || this.undoState === 'finished') throw new ProtocolError(`WRITE while the undo file is ${this.undoState === 'opening' ? 'being created' : 'completed'}`);
        this.writesSeen = true;
        this.queueWrite(device, m.offset, m.rawLength, m.encoding, m.payload, release);
        return;
      case MessageType.Flush:
        void this.flush(device, m.id);
        return;
      case MessageType.UndoOpen: {
        if (!this.writable) throw new ProtocolError('UNDO_OPEN for a device not opened for writing');
        if (this.undoState !== 'none' || this.writesSeen) throw new ProtocolError('UNDO_OPEN must come once, before any WRITE');
        this.undoState = 'opening';
        const opening = this.openUndo(device, m.id, m.path);
        this.undoOpening = opening.then(() => undefined, () => undefined);
        void opening.catch((e) => this.fail(m.id, e));
        return;
      }
      case MessageType.UndoFinish:
        if (this.undoState !== 'open') throw new ProtocolError('UNDO_FINISH without an open undo file');
        this.undoState = 'finished';
        void this.finishUndo(m.id);
        return;
      default:
        throw new ProtocolError(`unexpected ${messageName(m.type)} from the client`);
    }
  }

  /** The sender's codec for DATA, from OPEN; refuses a level out of its codec's range. */
  private codecChooser(codec: OpenCodec, level: number, blockSize: number): CodecChooser {
    if (codec === OpenCodec.Zlib && level > 9) throw new ProtocolError(`zlib level ${level} is out of range`);
    if (codec === OpenCodec.Zstd && (level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL)) throw new ProtocolError(`zstd level ${level} is out of range`);
    return new CodecChooser({ compress: choiceOfOpenCodec(codec), level }, this.clientCodecs, 'the client', blockSize);
  }

  /**
   * A READ's block, read into reused memory lent to the codec (LentBlock) as the read
   * stream's are: a fresh buffer per READ was garbage node 24 frees late (its agent of
   * a 1 GiB SYNC PULL into an empty image peaked at 175-180 MiB).
   */
  private async readAndEncode(device: Device, offset: number, length: number): Promise<EncodedBlock> {
    const target = length >= SLAB_WORTHWHILE ? this.readTargets.take(length) : undefined;
    let data: Buffer;
    try {
      data = await device.read(offset, length, target?.buffer);
    } catch (error) {
      target?.release();
      throw error;
    }
    if (target === undefined || data.buffer !== target.buffer.buffer) {
      target?.release();
      return this.encode(data);
    }
    const lent: LentBlock = { free: target.release, copy: (block) => privateCopy(this.sentCopies, block) };
    try {
      return await this.codecs!.encode(data, lent);
    } catch (error) {
      target.release();
      throw error;
    }
  }

  /** Compresses one block for DATA with the codec of the moment, and counts it. */
  private encode(data: Buffer): Promise<EncodedBlock> {
    return this.codecs!.encode(data);
  }

  private async open(id: number, path: string, writable: boolean, hashId: number, blockSize: number, createSize: number, rateLimit: number): Promise<void> {
    const hash = hashById(hashId);
    if (hash === undefined) throw new ProtocolError(`OPEN asks for hash id ${hashId}, which this agent does not know (it knows ${knownHashIds()})`);
    if (blockSize < 1 || blockSize > 1024 * 1024 * 1024) throw new ProtocolError(`block size ${blockSize} is out of range`);
    if (createSize > 0 && !writable) throw new ProtocolError('OPEN asks to create a device it does not open for writing');
    this.digest = await loadDigest(hash);
    this.hash = hash;
    this.writable = writable;
    this.hashLength = hash.digestLength;
    this.blockLimit = blockSize;
    let device: Device;
    const openDevice = this.options.openDevice ?? ((p: string, o: LocalDeviceOptions) => LocalDevice.open(p, o));
    try {
      device = await openDevice(path, {
        writable, hash, digest: this.digest, side: 'remote', createSize: createSize > 0 ? createSize : undefined,
      });
    } catch (error) {
      const message = error instanceof BasynError ? error.message : String(error);
      this.channel.send({ type: MessageType.Error, id, code: ErrorCode.Open, offset: NO_OFFSET, operation: 'open', message });
      // A session is for one device: a failed OPEN ends it (stop waits for this to return).
      void this.stop(1);
      return;
    }
    if (this.stopping) {
      // The session ended (input closed, bad frame) while the device was opening.
      await device.close();
      return;
    }
    this.device = device;
    this.channel.setFrameLimit(frameLimitFor(blockSize));
    this.writeFrames.resize(writeFrameSlabBytes(frameLimitFor(blockSize)));
    this.channel.send({
      type: MessageType.Opened, id, size: device.size,
      kind: device.isBlockDevice ? DeviceKind.BlockDevice : DeviceKind.File,
    });
    // From here on (--bwlimit in PULL): the handshake's answer is never held back.
    this.channel.setRateLimit(rateLimit);
  }

  private checkBlockSize(length: number): void {
    if (length < 1 || length > this.blockLimit) {
      throw new ProtocolError(`length ${length} is outside 1..${this.blockLimit}`);
    }
  }

  private checkRange(offset: number, length: number, what: string): void {
    const size = this.device!.size;
    if (length < 0 || offset < 0 || offset + length > size) {
      throw new ProtocolError(`${what} range ${offset}+${length} is outside the device's ${size} bytes`);
    }
  }

  private startStream(id: number, credit: number, run: (s: Stream) => Promise<void>): void {
    if (this.streams.has(id)) throw new ProtocolError(`stream id ${id} is already open`);
    const s: Stream = { credit, wake: undefined };
    this.streams.set(id, s);
    run(s).then(
      () => {
        this.streams.delete(id);
        if (!this.stopping) this.channel.send({ type: MessageType.End, id });
      },
      (e) => {
        this.streams.delete(id);
        void this.fail(id, e);
      },
    );
  }

  /** Waits until the stream may send one more block and the output has room. */
  private async admit(s: Stream): Promise<void> {
    while (s.credit <= 0 && !this.stopping) await new Promise<void>((resolve) => (s.wake = resolve));
    s.wake = undefined;
    if (this.stopping) throw new ProtocolError('session ended');
    await this.channel.drained();
    s.credit--;
  }

  private async runDigestStream(id: number, s: Stream, device: Device, start: number, end: number, blockSize: number, threads: number): Promise<void> {
    let batch: Buffer[] = [];
    let batchOffset = start;
    const sendBatch = (): void => {
      if (batch.length === 0) return;
      this.channel.send({ type: MessageType.Digests, id, offset: batchOffset, digests: Buffer.concat(batch) });
      batch = [];
    };
    // About one frame per 4 MiB read unit: few frames for small blocks, no digest held
    // back long; and never more than fit in a frame (13 bytes of fields before them).
    const digestLength = this.hashLength;
    const fit = Math.floor((frameLimitFor(this.blockLimit) - 13) / digestLength);
    const perFrame = Math.min(fit, 1024, Math.max(1, Math.floor((4 * 1024 * 1024) / blockSize)));
    for await (const b of device.digests(start, end, blockSize, undefined, { threads })) {
      if (this.stopping) return;
      if (s.credit <= 0) sendBatch();
      await this.admit(s);
      if (batch.length === 0) batchOffset = b.offset;
      batch.push(b.digest);
      if (batch.length >= perFrame) sendBatch();
    }
    sendBatch();
  }

  private async runReadStream(id: number, s: Stream, device: Device, start: number, end: number, blockSize: number): Promise<void> {
    const encoding: Promise<{ offset: number; rawLength: number; block: EncodedBlock }>[] = [];
    let encodingBytes = 0;
    const sendOne = async (): Promise<void> => {
      // What auto reads (auto-codec.ts): how long the link waited for the compressor
      // (the next block not ready), and how long a ready block waited for the link.
      const t0 = performance.now();
      const e = await encoding.shift()!;
      const t1 = performance.now();
      encodingBytes -= e.rawLength;
      await this.admit(s);
      this.codecs!.observe(performance.now() - t1, t1 - t0);
      // A compressed payload's memory goes back to its codec once written out (block-codec.ts).
      this.channel.send({ type: MessageType.Data, id, offset: e.offset, rawLength: e.rawLength, encoding: e.block.encoding, payload: e.block.payload }, e.block.release);
    };
    // The device reads into buffers it reuses: a fresh 4 MiB per read was garbage the
    // collector freed late (a 1 GiB compressible PULL: the agent at 155-157 MiB on node
    // 20, 192-196 on node 24). So each block is lent to the codec (block-codec.ts's
    // LentBlock), and the next one is read only once the codec has let it go: a zstd
    // thread holds its own copy, or a raw block is copied for sending.
    for await (const b of device.blocks(start, end, blockSize, undefined, { reuseBuffers: true })) {
      if (this.stopping) return;
      const { lent, freed } = lendBlock((data) => privateCopy(this.sentCopies, data));
      const p = this.codecs!.encode(b.data, lent).then((block) => ({ offset: b.offset, rawLength: b.data.length, block }));
      p.catch(() => lent.free()); // observed by sendOne; a failed encode may not have freed it
      encoding.push(p);
      encodingBytes += b.data.length;
      await freed;
      while (encoding.length >= ENCODE_AHEAD || (encoding.length > 1 && encodingBytes > ENCODE_AHEAD_BYTES)) await sendOne();
    }
    while (encoding.length > 0) await sendOne();
  }

  private queueWrite(device: Device, offset: number, rawLength: number, encoding: number, payload: Buffer, release: () => void): void {
    this.backlog += rawLength;
    // Frames already read still arrive after this (at most one read's worth): the
    // bound is the backlog plus one input chunk of frames.
    if (!this.inputPaused && (this.backlog > WRITE_BACKLOG.bytes || this.pendingWrites.size >= WRITE_BACKLOG.items)) {
      this.inputPaused = true;
      this.input.pause();
    }
    // Decompressed into reused memory, for the same reason the frames are joined into it.
    // Only where a slab holds it: a longer block is no piece, and its memory is not taken on its word.
    const target = encoding === Encoding.Zstd && rawLength >= SLAB_WORTHWHILE && this.decodedSlabs.fits(rawLength) ? this.decodedSlabs.take(rawLength) : undefined;
    // Payloads may decode in parallel (zlib's on the thread pool; zstd's into slabs on
    // this thread), but a block is written only once every earlier payload has decoded:
    // a bad one fails the session and nothing behind it lands.
    const decoded = decodeBlock(encoding, payload, rawLength, target?.buffer);
    decoded.catch(() => undefined); // observed through `ready` unless an earlier payload failed first
    const ready = this.decodedSoFar.then(() => decoded);
    this.decodedSoFar = ready.then(() => undefined);
    this.decodedSoFar.catch(() => undefined);
    // The frame's memory goes back to the channel once nothing reads it: a compressed
    // payload once decoded (it may still be decoding after an earlier payload failed),
    // a raw one, which is the data written, once the device says it is written. Only
    // slab memory needs this (frames of 64 KiB and more): a promise chain per write,
    // alive until the write lands, made an agent receiving 1 KiB zero blocks peak 15
    // MiB higher.
    const free = release !== NOTHING_TO_RELEASE || target !== undefined ? this.whenFree(decoded, payload, release, target) : undefined;
    const p: Promise<void> = ready
      .then((data) => (this.stopping ? undefined : device.write(offset, data, free?.options).then(free?.queued)))
      .then(
        () => this.releaseBacklog(p, rawLength),
        (e) => {
          this.releaseBacklog(p, rawLength);
          void this.fail(0, e);
        },
      );
    // A write never queued (stopping, an earlier failure, or refused) will not call written.
    if (free !== undefined) void p.then(free.unlessQueued);
    this.pendingWrites.add(p);
  }

  /**
   * Gives a WRITE's slab memory back once nothing reads it: the frame (`release`) and
   * the decompressed block (`target`) once decoded, or, where one of them is the data
   * written, once the device calls `written`. `queued` is for when the device has
   * taken the write; `unlessQueued`, for after it settled, frees the memory of a write
   * the device never took (it will not call `written`): a write() that rejects keeps
   * nothing of its data (WriteOptions.written).
   */
  private whenFree(decoded: Promise<Buffer>, payload: Buffer, release: () => void, target: PooledCopy | undefined) {
    let queued = false;
    let dataFree!: () => void;
    const dataDone = new Promise<void>((resolve) => (dataFree = resolve));
    const after = (memory: ArrayBufferLike, give: () => void): void => {
      void decoded.then((data) => (data.buffer === memory ? dataDone : undefined), () => undefined).then(give);
    };
    after(payload.buffer, release);
    if (target !== undefined) after(target.buffer.buffer, target.release);
    return {
      options: { written: dataFree },
      queued: () => {
        queued = true;
      },
      unlessQueued: () => {
        if (!queued) dataFree();
      },
    };
  }

  private releaseBacklog(p: Promise<void>, rawLength: number): void {
    this.pendingWrites.delete(p);
    this.backlog -= rawLength;
    if (this.inputPaused && !this.stopping && this.backlog <= WRITE_BACKLOG.bytes / 2 && this.pendingWrites.size <= WRITE_BACKLOG.items / 2) {
      this.inputPaused = false;
      this.input.resume();
    }
  }

  private async flush(device: Device, id: number): Promise<void> {
    try {
      await Promise.all(this.pendingWrites);
      await device.flush();
      const { size, io } = await device.status();
      this.channel.send({ type: MessageType.Flushed, id, bytesRead: io.bytesRead, bytesWritten: io.bytesWritten, size });
    } catch (error) {
      await this.fail(id, error);
    }
  }

  private async openUndo(device: Device, id: number, path: string): Promise<void> {
    // A path there, taken as the device's (-r) is: `~/` is the agent user's home.
    const undo = await UndoRecorder.create(expandHome(path), device, { hash: this.hash!, unitSize: this.blockLimit, codec: this.undoCodec }, this.digest!);
    if (this.stopping) {
      await undo.abandon();
      return;
    }
    this.undo = undo;
    this.device = undo.device;
    this.undoState = 'open';
    this.channel.send({ type: MessageType.UndoState, id, entries: 0, dataBytes: 0, fileSize: 0 });
  }

  private async finishUndo(id: number): Promise<void> {
    try {
      await Promise.all(this.pendingWrites);
      await this.device!.flush();
      const f = await this.undo!.finish();
      this.channel.send({ type: MessageType.UndoState, id, entries: f.entries, dataBytes: f.dataBytes, fileSize: f.fileSize });
    } catch (error) {
      await this.fail(id, error);
    }
  }

  /** Reports a failure to the client and ends the session. */
  private async fail(id: number, error: unknown): Promise<void> {
    if (this.stopping) return;
    const ctx = error instanceof BasynError ? error.context : {};
    const code = error instanceof DeviceError ? ErrorCode.Device : error instanceof ProtocolError ? ErrorCode.Protocol : ErrorCode.Device;
    const message = error instanceof BasynError ? error.message : error instanceof Error ? error.message : String(error);
    this.options.log?.(`agent: ${message}`);
    this.channel.send({ type: MessageType.Error, id, code, offset: ctx.offset ?? NO_OFFSET, operation: ctx.operation ?? '', message });
    await this.stop(1);
  }

  /**
   * The client is gone (killed, its connection cut, its parent process dead): stop at
   * once. Writes not yet started are dropped (stop() skips them) and nothing is
   * flushed, since no one is left to be told it is durable; the writes the system
   * already has reach the device all the same, in order, before any later run's.
   */
  abandon(why: string, code = 1): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.options.log?.(`agent: ${why}; stopping`);
    this.options.clientGone?.(why);
    void this.stop(code);
  }

  /** Finishes writes in flight, closes the device and ends the output. */
  private async stop(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const s of this.streams.values()) s.wake?.();
    // A device still opening is closed by open() itself once it sees the session over.
    await this.opening;
    await this.undoOpening;
    await Promise.allSettled(this.pendingWrites);
    if (this.codecs !== undefined && this.codecs.tally.uses.size > 0) {
      this.options.log?.(`agent: DATA sent by codec: ${JSON.stringify(this.codecs.tally)}`);
    }
    if (this.device !== undefined) {
      // With --undo, the flush first saves the old blocks of the writes it issues.
      if (!this.abandoned) await this.device.flush().catch(() => undefined);
      await this.device.close();
    }
    // An undo file not completed ends at its last checkpoint: it covers every write issued.
    await this.undo?.abandon();
    await this.channel.endOutput();
    this.resolveDone(code);
  }
}

/** The payload length rule of the raw and zero encodings (decodeBlock checks it again). */
function checkPayloadLength(encoding: number, payloadLength: number, rawLength: number): void {
  if (encoding === Encoding.Raw && payloadLength !== rawLength) {
    throw new ProtocolError(`raw block of ${payloadLength} bytes where ${rawLength} were announced`);
  }
  if (encoding === Encoding.Zero && payloadLength !== 0) throw new ProtocolError('zero block carries a payload');
}
