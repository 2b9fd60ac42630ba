/**
 * Which codec a sender uses, from what the user asked (--compress, --zlevel) and what
 * the receiver said it decodes in its HELLO. One chooser per sending end: the client
 * in PUSH, the agent in PULL (told by OPEN). It also tallies what each codec and level
 * carried, for --debug and --json.
 */
import { ProtocolError } from '../errors.js';
import { AutoCodec, ZLIB_LADDER, ZSTD_LADDER } from './auto-codec.js';
import { encodeBlock, type CodecSetting, type EncodedBlock, type LentBlock } from './block-codec.js';
import { Encoding, OpenCodec } from './protocol.js';
import { hasZstd } from './zstd.js';

export type CompressChoice = 'auto' | 'zstd' | 'zlib' | 'none';

export interface CompressRequest {
  readonly compress: CompressChoice;
  /** The level of zlib or zstd; ignored by auto and none. */
  readonly level: number;
}

/** The encodings this process compresses and decompresses. */
export function localEncodings(): Encoding[] {
  return hasZstd() ? [Encoding.Raw, Encoding.Zlib, Encoding.Zero, Encoding.Zstd] : [Encoding.Raw, Encoding.Zlib, Encoding.Zero];
}

export function openCodecOf(choice: CompressChoice): OpenCodec {
  return { auto: OpenCodec.Auto, zstd: OpenCodec.Zstd, zlib: OpenCodec.Zlib, none: OpenCodec.None }[choice];
}

export function choiceOfOpenCodec(codec: OpenCodec): CompressChoice {
  switch (codec) {
    case OpenCodec.Auto: return 'auto';
    case OpenCodec.Zstd: return 'zstd';
    case OpenCodec.Zlib: return 'zlib';
    case OpenCodec.None: return 'none';
  }
}

/** What one codec and level carried: device bytes in, wire bytes (payload) out. */
export interface CodecUse {
  blocks: number;
  deviceBytes: number;
  wireBytes: number;
}

/** "zstd-3", "zlib-9", "raw", "zero"; "zstd" when the level is not known (the receiver's view). */
export function codecLabel(encoding: Encoding, setting?: CodecSetting): string {
  switch (encoding) {
    case Encoding.Raw: return 'raw';
    case Encoding.Zero: return 'zero';
    case Encoding.Zlib: return setting?.codec === 'zlib' ? `zlib-${setting.level}` : 'zlib';
    case Encoding.Zstd: return setting?.codec === 'zstd' ? `zstd-${setting.level}` : 'zstd';
  }
}

export class CodecTally {
  readonly uses = new Map<string, CodecUse>();

  add(label: string, deviceBytes: number, wireBytes: number): void {
    let u = this.uses.get(label);
    if (u === undefined) this.uses.set(label, (u = { blocks: 0, deviceBytes: 0, wireBytes: 0 }));
    u.blocks++;
    u.deviceBytes += deviceBytes;
    u.wireBytes += wireBytes;
  }

  toJSON(): Record<string, CodecUse> {
    return Object.fromEntries([...this.uses].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/**
 * Above this block size auto uses zlib even where both ends have zstd: zstd holds a
 * whole block (in and out) at once, in the WASM heap too, which never shrinks, while
 * zlib streams through a 32 KiB window; with --buffer 65536 that is about 2 x 64 MiB
 * more per process. --compress=zstd still uses zstd at any size.
 */
export const AUTO_ZSTD_MAX_BLOCK = 8 * 1024 * 1024;

/** The time at least one of the promises it was given was pending, taken in parts. */
class BusyClock {
  private pending = 0;
  private since = 0;
  private total = 0;

  async during<T>(work: Promise<T>): Promise<T> {
    if (this.pending++ === 0) this.since = performance.now();
    try {
      return await work;
    } finally {
      if (--this.pending === 0) this.total += performance.now() - this.since;
    }
  }

  /** The busy time since the last take. */
  take(): number {
    const now = performance.now();
    const busy = this.total + (this.pending > 0 ? now - this.since : 0);
    this.total = 0;
    if (this.pending > 0) this.since = now;
    return busy;
  }
}

/** Chooses each block's codec for one sender. */
export class CodecChooser {
  private readonly auto: AutoCodec | undefined;
  private readonly fixed: CodecSetting;
  readonly tally = new CodecTally();

  /**
   * `peer` names the receiver for the message when it lacks a codec asked for by
   * name (auto never asks for one the receiver lacks).
   */
  constructor(request: CompressRequest, receiverCodecs: ReadonlySet<Encoding>, peer: string, blockSize: number) {
    const zstdBoth = hasZstd() && receiverCodecs.has(Encoding.Zstd);
    if (request.compress === 'zstd' && !zstdBoth) {
      throw new ProtocolError(
        hasZstd() ? `--compress=zstd: ${peer} offers no zstd (use --compress=zlib or auto)` : '--compress=zstd: this basyn has no zstd (BASYN_ZSTD=none)',
      );
    }
    // auto uses zstd wherever both ends have it: node's runs on libuv's thread pool, the
    // WASM build on threads of its own (zstd-pool.ts), so either overlaps sending on
    // every core; zstd-1 is both faster and smaller than zlib-1.
    const autoZstd = zstdBoth && blockSize <= AUTO_ZSTD_MAX_BLOCK;
    this.auto = request.compress === 'auto' ? new AutoCodec(autoZstd ? ZSTD_LADDER : ZLIB_LADDER) : undefined;
    this.fixed = request.compress === 'none' ? { codec: 'none', level: 0 } : { codec: request.compress === 'auto' ? 'none' : request.compress, level: request.level };
  }

  /** Time at least one block was in a codec, and at least one waited for the link. */
  private readonly compressing = new BusyClock();
  private readonly waitingForLink = new BusyClock();

  get isAuto(): boolean {
    return this.auto !== undefined;
  }

  /** Compresses one block with the codec of the moment, and counts what it carried. `lent`: see LentBlock. */
  async encode(data: Buffer, lent?: LentBlock): Promise<EncodedBlock> {
    const setting = this.auto?.current ?? this.fixed;
    const block = await this.compressing.during(encodeBlock(data, setting, lent));
    this.tally.add(codecLabel(block.encoding, setting), data.length, block.payload.length);
    return block;
  }

  /** Waits for `drained` (the link), timed for auto: see observe. */
  waitForLink(drained: Promise<void>): Promise<void> {
    return this.waitingForLink.during(drained);
  }

  /**
   * One block was sent (AutoCodec.observe). A sender that keeps several blocks going
   * at once (the client's write window) passes no wait for the link and waits through
   * waitForLink instead: what counts is the time at least one block waited, and the
   * time at least one block was in a codec, since the last call; not each block's own,
   * which summed the same wait over every block in the window and read a link busy
   * for a moment as the bound.
   */
  observe(linkWaitMs: number, compressorWaitMs: number): void {
    this.auto?.observe(linkWaitMs + this.waitingForLink.take(), compressorWaitMs, this.compressing.take());
  }
}
