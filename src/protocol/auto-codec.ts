/**
 * The "auto" codec: chooses the codec and level of each block as the run goes, so
 * that the link stays full and the sender never idles. Pure: it sees only what the
 * sender tells it (how long it waited for the link, how long the link waited for the
 * compressor), so it is tested without any I/O.
 *
 * The rule (docs/design.md, "Choosing the codec as the run goes"): over each period of
 * PERIOD blocks, if the sender waited on the link (send window full, or a --bwlimit
 * holding it back) longer than the link waited on the compressor, and longer than it
 * spent compressing, the link is the bound and each block may cost more CPU: one step
 * up the ladder. If the link waited on the compressor more than twice as long as the
 * reverse, or compressing took more than twice as long as the waits for the link, the
 * compressor is the bound: one step down, to the ladder's floor. Otherwise stay.
 *
 * The time spent compressing counts even while the link was busy: the link can look
 * busy because its receiver shares this machine's cores (a local agent that hashes its
 * own device in a SYNC), and a rule that saw only the waits climbed to zstd-19 there,
 * took those cores from the receiver, and ran a SYNC of 64 KiB blocks at 5 MB/s.
 *
 * zstd's floor is zstd-1, not raw: zstd-1 runs on every core at once (node's on libuv's
 * pool, the WASM build on zstd-pool.ts's threads), at 200-450 MB/s a core, and sends a
 * third of the bytes; a link that merely looks idle while the first blocks compress
 * must not cost the run twice the wire bytes. zlib-1 (about 135 MB/s a core) is slower
 * than many links, so zlib's ladder keeps raw as its floor. Incompressible blocks go
 * raw whatever the step (block-codec.ts).
 */
import type { CodecSetting } from './block-codec.js';

/** Blocks per decision: enough to average out one slow read or one burst. */
export const PERIOD = 8;

/**
 * From cheapest to hardest; zstd-1 is the floor (see above), zstd-9 the top: 64 MiB of
 * mixed data through the agent at zstd 9 / 12 / 19 took 4.8 / 9.1 / 30.3 s for 30.1 /
 * 29.9 / 28.4 MB on the wire, and peaked at 128 / 138 / 150 MiB; the WASM heap keeps
 * what the hardest level used for the rest of the run. --zlevel reaches them all.
 */
export const ZSTD_LADDER: readonly CodecSetting[] = [
  { codec: 'zstd', level: 1 },
  { codec: 'zstd', level: 3 },
  { codec: 'zstd', level: 6 },
  { codec: 'zstd', level: 9 },
];

/** For a peer without zstd; the first step is raw. */
export const ZLIB_LADDER: readonly CodecSetting[] = [
  { codec: 'none', level: 0 },
  { codec: 'zlib', level: 1 },
  { codec: 'zlib', level: 3 },
  { codec: 'zlib', level: 6 },
  { codec: 'zlib', level: 9 },
];

export class AutoCodec {
  private step: number;
  private blocks = 0;
  private linkWait = 0;
  private compressorWait = 0;
  private compressing = 0;

  /** Starts at zstd-1 / zlib-1 (by default): cheap, and most of the ratio of the higher levels. */
  constructor(private readonly ladder: readonly CodecSetting[], start = ladder.findIndex((s) => s.level === 1)) {
    this.step = Math.min(Math.max(start, 0), ladder.length - 1);
  }

  /** The setting for the next block. */
  get current(): CodecSetting {
    return this.ladder[this.step]!;
  }

  /**
   * One block was sent: `linkWaitMs` the sender held it, compressed, waiting for the
   * link or window; `compressorWaitMs` the link had nothing to send while it compressed;
   * `compressingMs` it took to compress, whatever the link did meanwhile.
   */
  observe(linkWaitMs: number, compressorWaitMs: number, compressingMs = 0): void {
    this.linkWait += Math.max(0, linkWaitMs);
    this.compressorWait += Math.max(0, compressorWaitMs);
    this.compressing += Math.max(0, compressingMs);
    if (++this.blocks < PERIOD) return;
    const linkBound = this.linkWait > this.compressorWait && this.linkWait > this.compressing;
    const compressorBound = (this.compressorWait > 2 * this.linkWait && this.compressorWait > 0) || this.compressing > 2 * this.linkWait;
    if (linkBound) this.step = Math.min(this.step + 1, this.ladder.length - 1);
    else if (compressorBound) this.step = Math.max(this.step - 1, 0);
    this.blocks = 0;
    this.linkWait = 0;
    this.compressorWait = 0;
    this.compressing = 0;
  }
}
