/**
 * A source read from standard input (-l - with --size): read once, front to back,
 * block after block, so `borg extract --stdout`, `zstdcat image.zst` or `qemu-img dd`
 * can feed a COPY or a SYNC without a temporary file. Whatever needs a second read
 * (--chunk, --recheck, a PULL) is refused on the command line; a pipe that ends before
 * or goes on after --size bytes fails the run, naming both sizes. Nothing past --size
 * is ever read, so nothing past the device is written.
 */
import type { Readable } from 'node:stream';
import { DeviceError } from '../errors.js';
import type { Block, BlockDigest, Device, DeviceStatus } from '../device/device.js';
import type { DigestFunction } from '../hash/hash-algorithms.js';

export class PipeSource implements Device {
  readonly path = '-';
  readonly side = 'local' as const;
  readonly label = 'standard input';
  readonly isBlockDevice = false;
  readonly inProcess = true;
  private consumed = false;
  private bytesRead = 0;
  private readonly chunks: AsyncIterator<Buffer>;
  private spare: Buffer = Buffer.alloc(0);

  constructor(
    readonly size: number,
    private readonly digest: DigestFunction,
    stream: Readable = process.stdin,
  ) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private fail(why: string): DeviceError {
    return new DeviceError(`standard input ${why}`, { side: 'local', device: '-', operation: 'read' });
  }

  /** Exactly `length` bytes, or fewer when the pipe ends. */
  private async take(length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < length) {
      if (this.spare.length === 0) {
        const next = await this.chunks.next();
        if (next.done === true) break;
        this.spare = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      }
      const piece = this.spare.subarray(0, length - have);
      this.spare = this.spare.subarray(piece.length);
      parts.push(piece);
      have += piece.length;
    }
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts, have);
  }

  async *blocks(start: number, end: number, blockSize: number, signal?: AbortSignal): AsyncGenerator<Block> {
    if (this.consumed || start !== 0 || end !== this.size) throw this.fail('can be read only once, from its start to --size');
    this.consumed = true;
    for (let offset = 0; offset < end; offset += blockSize) {
      signal?.throwIfAborted();
      const length = Math.min(blockSize, end - offset);
      const data = await this.take(length);
      this.bytesRead += data.length;
      if (data.length < length) throw this.fail(`ended after ${this.bytesRead} bytes, but --size is ${this.size} bytes`);
      yield { offset, data };
    }
    // One byte more tells a pipe that goes on from one that ends here.
    const more = await this.take(1);
    if (more.length > 0) throw this.fail(`holds more than --size (${this.size} bytes): it went on past them`);
  }

  async *digests(start: number, end: number, blockSize: number, signal?: AbortSignal): AsyncGenerator<BlockDigest> {
    for await (const b of this.blocks(start, end, blockSize, signal)) {
      yield { offset: b.offset, length: b.data.length, digest: this.digest(b.data), data: b.data };
    }
  }

  chunkDigests(): Promise<Buffer[]> {
    return Promise.reject(this.fail('can be read only once (no --chunk)'));
  }

  read(offset: number): Promise<Buffer> {
    return Promise.reject(this.fail(`can be read only once: offset ${offset} can't be read again`));
  }

  write(): Promise<void> {
    return Promise.reject(this.fail('is a source, never written'));
  }

  async flush(): Promise<void> {}

  async status(): Promise<DeviceStatus> {
    return { size: this.size, io: { bytesRead: this.bytesRead, bytesWritten: 0 } };
  }

  async close(): Promise<void> {
    process.stdin.destroy();
  }
}
