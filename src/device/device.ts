/**
 * The one interface the engine sees for a device, whichever side it is on.
 * LocalDevice reads and writes this machine's file or block device; RemoteDevice
 * forwards the same calls to an agent over the protocol. Both stream: digests and
 * blocks flow ahead of the consumer within a bounded window, and writes return as
 * soon as they are queued, so no call costs a network round trip per block.
 */

export type Side = 'local' | 'remote';

export interface BlockDigest {
  offset: number;
  length: number;
  digest: Buffer;
  /**
   * The block's bytes, when the device read them on this machine. Valid only until
   * the stream is advanced (the buffer is reused): copy it to keep it.
   */
  data?: Buffer;
}

export interface DigestOptions {
  /**
   * Threads to hash on. Worth more than 1 only when nothing else hashes at the same
   * time on that machine (a bitmap SYNC reads only the source).
   */
  threads?: number;
}

export interface BlockOptions {
  /**
   * The device may reuse a block's buffer once the stream is advanced (no fresh
   * memory per block): the consumer copies what it keeps.
   */
  reuseBuffers?: boolean;
  /**
   * Blocks longer than this are yielded in consecutive pieces of at most this many
   * bytes, none spanning two blocks. A device may ignore it (a whole block is then its
   * own only piece): consumers go by each piece's offset and length.
   */
  pieceBytes?: number;
}

export interface WriteOptions {
  /**
   * `data` is the caller's until write() resolves, and is reused after that: the
   * device copies whatever it keeps longer (into memory it reuses, not fresh memory).
   */
  borrowed?: boolean;
  /**
   * Called once the device reads `data` no more: written, skipped, copied, or dropped
   * by a failure (write() may resolve earlier, with the write only queued). The caller
   * can then reuse the memory. Every device calls it, once, for a write() that
   * resolves; a write() that rejects has kept nothing of `data`, whether or not it
   * called this. With `written`, `borrowed` is not needed: the memory is the device's
   * until then.
   */
  written?: () => void;
}

export interface Block {
  offset: number;
  data: Buffer;
  /**
   * Gives `data`'s memory back to the device once nothing reads it any more (the
   * device reuses it: a remote device's decoded blocks). More than once is harmless;
   * a consumer that never calls it leaves the memory to the garbage collector.
   */
  release?: () => void;
}

/** Bytes the device itself read and wrote (not what crossed a network). */
export interface IoCounters {
  bytesRead: number;
  bytesWritten: number;
  /** Bytes of zero blocks not written because a regular-file destination already read zeros there. */
  bytesSkipped?: number;
}

export interface DeviceStatus {
  size: number;
  io: IoCounters;
}

export interface Device {
  /** The path as the user gave it. */
  readonly path: string;
  readonly side: Side;
  /** For messages: "local device a.img" or "remote device /dev/sdb on host". */
  readonly label: string;
  readonly size: number;
  readonly isBlockDevice: boolean;
  /**
   * True when reads land in this process's memory (a LocalDevice). Two such devices
   * are compared byte for byte: exact, and cheaper than hashing both on one core.
   */
  readonly inProcess: boolean;

  /** Digests of consecutive blocks of [start, end); the last block may be short. */
  digests(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: DigestOptions): AsyncIterable<BlockDigest>;
  /** Digests of the chunks of one range (the finer comparison of --chunk). */
  chunkDigests(offset: number, length: number, chunkSize: number): Promise<Buffer[]>;
  /**
   * `length` bytes from `offset`. A device that reads on this machine reads them into
   * `into` (at least `length` bytes) when given, and returns that memory; others
   * return memory of their own.
   */
  read(offset: number, length: number, into?: Buffer): Promise<Buffer>;
  /** Consecutive blocks of [start, end) with their data (COPY). */
  blocks(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: BlockOptions): AsyncIterable<Block>;
  /**
   * Queues a write. Resolves once the write is accepted into the window (not when it
   * is on disk); a failure surfaces from a later write() or from flush().
   */
  write(offset: number, data: Buffer, options?: WriteOptions): Promise<void>;
  /** Resolves when every earlier write is durable (fsync). */
  flush(): Promise<void>;
  /**
   * The device's size as it is now (a device can shrink, grow or vanish under a run)
   * and the bytes read and written so far; one round trip at most for a remote one.
   */
  status(): Promise<DeviceStatus>;
  close(): Promise<void>;
}
