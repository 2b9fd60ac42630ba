/**
 * A device that stands in for another and passes everything on to it: the base of the
 * wrappers that change only what a write does (delta/delta-destination.ts turns writes
 * into delta entries, delta/undo-destination.ts saves old blocks before writing).
 */
import type { Block, BlockDigest, BlockOptions, Device, DeviceStatus, DigestOptions, WriteOptions } from './device.js';

export abstract class WrappedDevice implements Device {
  constructor(protected readonly inner: Device) {}

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
  read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    return this.inner.read(offset, length, into);
  }
  blocks(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: BlockOptions): AsyncIterable<Block> {
    return this.inner.blocks(start, end, blockSize, signal, options);
  }

  abstract write(offset: number, data: Buffer, options?: WriteOptions): Promise<void>;
  abstract flush(): Promise<void>;

  status(): Promise<DeviceStatus> {
    return this.inner.status();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
