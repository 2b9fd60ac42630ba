/**
 * The undo file of a run (--undo): created before the first write, wrapped around
 * the destination, completed with its trailer when the run succeeds, and left
 * ending at its last checkpoint when the run fails or is stopped (it then covers
 * exactly the writes that were issued).
 */
import { UsageError } from '../errors.js';
import type { Device } from '../device/device.js';
import type { DigestFunction, HashAlgorithm } from '../hash/hash-algorithms.js';
import { DeltaWriter, type DeltaFigures } from './delta-writer.js';
import { UndoDestination } from './undo-destination.js';
import type { CodecSetting } from '../protocol/block-codec.js';

export class UndoRecorder {
  private constructor(
    readonly device: Device,
    private readonly writer: DeltaWriter,
  ) {}

  static async start(path: string, destination: Device, o: { hash: HashAlgorithm; unitSize: number; codec: CodecSetting }, digest: DigestFunction): Promise<UndoRecorder> {
    // The old data is on the destination's machine, and so must its undo file be:
    // a destination behind the agent would need the agent to write it.
    if (!destination.inProcess) {
      throw new UsageError(`--undo needs the destination on this machine (opened by basyn itself, without -h, --sudo or --remote-node): ${destination.label} is behind the agent`);
    }
    const writer = await DeltaWriter.create(path, { hash: o.hash, unitSize: o.unitSize, deviceSize: destination.size, kind: 'undo', codec: o.codec });
    return new UndoRecorder(new UndoDestination(destination, writer, digest), writer);
  }

  async finish(): Promise<DeltaFigures> {
    return this.writer.finish();
  }

  async abandon(): Promise<void> {
    await this.writer.abandon();
  }
}
