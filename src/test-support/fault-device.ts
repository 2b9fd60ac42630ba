/**
 * A device wrapper that fails like a dying disk: the first read or write touching a
 * chosen offset throws the DeviceError a LocalDevice throws for EIO, naming the
 * device, the operation and the offset. Given to AgentServer's `openDevice` hook, it
 * exercises the real agent, protocol and engine; it can also wrap a local device.
 */
import { DeviceError, describeContext, type ErrorContext } from '../errors.js';
import type { Block, BlockDigest, BlockOptions, Device, DeviceStatus, DigestOptions, WriteOptions } from '../device/device.js';

export interface Faults {
  /** Reads (digests, blocks, read, chunkDigests) of a range holding this offset fail. */
  readAt?: number;
  /** Only single-range reads (read, chunkDigests: the READ and CHUNK_DIGESTS requests) at this offset fail. */
  rangeReadAt?: number;
  /** Writes of a range holding this offset fail. */
  writeAt?: number;
  /** flush() (fsync) fails. */
  flush?: boolean;
  /** The error code in the message; default EIO. */
  code?: string;
  /** Reported size instead of the real one (to fake a device shorter than its file). */
  size?: number;
  /** status() reports this size instead of the device's (a size change). */
  currentSize?: number;
}

const TEXT: Record<string, string> = {
  EIO: 'i/o error',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
};

export class FaultDevice implements Device {
  readonly size: number;
  constructor(
    private readonly inner: Device,
    private readonly faults: Faults,
  ) {
    this.size = faults.size ?? inner.size;
  }

  get path(): string {
    return this.inner.path;
  }
  get side(): Device['side'] {
    return this.inner.side;
  }
  get label(): string {
    return this.inner.label;
  }
  get isBlockDevice(): boolean {
    return this.inner.isBlockDevice;
  }
  get inProcess(): boolean {
    return this.inner.inProcess;
  }

  private fail(operation: string, offset: number | undefined): DeviceError {
    const code = this.faults.code ?? 'EIO';
    const context: ErrorContext = { side: this.side, device: this.path, operation, offset };
    const what = operation === 'flush' ? 'fsync' : operation;
    return new DeviceError(`${what} failed: ${code}: ${TEXT[code] ?? 'failure'}${describeContext(context)}`, context);
  }

  private check(operation: 'read' | 'write', offset: number, length: number, range = false): void {
    const at = operation === 'read' ? this.faults.readAt : this.faults.writeAt;
    if (at !== undefined && at >= offset && at < offset + length) throw this.fail(operation, at);
    const rangeAt = this.faults.rangeReadAt;
    if (range && rangeAt !== undefined && rangeAt >= offset && rangeAt < offset + length) throw this.fail(operation, rangeAt);
  }

  async *digests(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: DigestOptions): AsyncGenerator<BlockDigest> {
    for await (const b of this.inner.digests(start, end, blockSize, signal, options)) {
      this.check('read', b.offset, b.length);
      yield b;
    }
  }

  async chunkDigests(offset: number, length: number, chunkSize: number): Promise<Buffer[]> {
    this.check('read', offset, length, true);
    return this.inner.chunkDigests(offset, length, chunkSize);
  }

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    this.check('read', offset, length, true);
    return this.inner.read(offset, length, into);
  }

  async *blocks(start: number, end: number, blockSize: number, signal?: AbortSignal, options?: BlockOptions): AsyncGenerator<Block> {
    for await (const b of this.inner.blocks(start, end, blockSize, signal, options)) {
      this.check('read', b.offset, b.data.length);
      yield b;
    }
  }

  async write(offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    this.check('write', offset, data.length);
    return this.inner.write(offset, data, options);
  }

  async flush(): Promise<void> {
    await this.inner.flush();
    if (this.faults.flush === true) throw this.fail('flush', undefined);
  }

  async status(): Promise<DeviceStatus> {
    const inner = await this.inner.status();
    return { ...inner, size: this.faults.currentSize ?? this.faults.size ?? inner.size };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
