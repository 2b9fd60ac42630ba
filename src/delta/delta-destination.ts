/**
 * --write-delta without a bitmap: the destination is read and compared as in SYNC,
 * and what SYNC would write to it goes into the delta instead. This Device stands in
 * for the destination: reads go to the real one (opened read-only), writes become
 * delta entries whose before digest is what the destination holds there now.
 */
import type { Device, WriteOptions } from '../device/device.js';
import { WrappedDevice } from '../device/wrapped-device.js';
import type { DigestFunction } from '../hash/hash-algorithms.js';
import type { DeltaWriter } from './delta-writer.js';

export class DeltaDestination extends WrappedDevice {
  constructor(
    inner: Device,
    private readonly writer: DeltaWriter,
    private readonly digest: DigestFunction,
  ) {
    super(inner);
  }

  async write(offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    try {
      const [before] = await this.inner.chunkDigests(offset, data.length, data.length);
      await this.writer.add(offset, Buffer.from(data), before, this.digest(data));
    } finally {
      options?.written?.();
    }
  }

  /** Nothing reaches the destination; the delta is completed by its writer. */
  async flush(): Promise<void> {}
}
