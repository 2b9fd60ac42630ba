/**
 * --write-delta without a bitmap: the destination is read and compared as in SYNC,
 * and what SYNC would write to it goes into the delta instead. This Device stands in
 * for the destination: reads go to the real one (opened read-only), writes become
 * delta entries whose before digest is what the destination holds there now.
 */
import type { Block, BlockDigest, BlockOptions, Device, DeviceStatus, DigestOptions } from '../device/device.js';
import type { DigestFunction } from '../hash/hash-algorithms.js';
import type { DeltaWriter } from './delta-writer.js';

export class DeltaDestination implements Device {
  constructor(
    private readonly inner: Device,
    private readonly writer: DeltaWriter,
    private readonly digest: DigestFunction,
  ) {}

  get path(): string { return this.inner.path; }
  get side(): Device['side'] { return this.inner.side; }
  get label(): string { return this.inner.label; }
  get size(): number { return this.inner.size; }
  get isBlockDevice(): boolean { return this.inner.isBlockDevice; }
  get inProcess(): boolean { return this.inner.inProcess; }

  digests(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: DigestOptions): AsyncIterable<BlockDigest> {
    return this.inner.digests(start, end, blockSize, signal, options);
  }
  chunkDigests(offset: number, length: number, chunkSize: number): Promise<Buffer[]> {
    return this.inner.chunkDigests(offset, length, chunkSize);
  }
  read(offset: number, length: number): Promise<Buffer> {
    return this.inner.read(offset, length);
  }
  blocks(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: BlockOptions): AsyncIterable<Block> {
    return this.inner.blocks(start, end, blockSize, signal, options);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    const [before] = await this.inner.chunkDigests(offset, data.length, data.length);
    await this.writer.add(offset, Buffer.from(data), before, this.digest(data));
  }

  /** Nothing reaches the destination; the delta is completed by its writer. */
  async flush(): Promise<void> {}

  status(): Promise<DeviceStatus> {
    return this.inner.status();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
