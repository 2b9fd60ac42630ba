/**
 * The undo file of a run (--undo): created before the first write, wrapped around
 * the destination, completed with its trailer when the run succeeds, and left
 * ending at its last checkpoint when the run fails or is stopped (it then covers
 * exactly the writes that were issued). The file is written on the destination's
 * machine, where the old data is: by basyn itself for a destination it opened, by
 * the agent (which runs this same code, agent-server.ts) for one behind the agent.
 */
import { UsageError } from '../errors.js';
import type { Device } from '../device/device.js';
import type { DigestFunction, HashAlgorithm } from '../hash/hash-algorithms.js';
import { DeltaWriter, type DeltaFigures } from './delta-writer.js';
import { UndoDestination } from './undo-destination.js';
import type { CodecSetting } from '../protocol/block-codec.js';

/** A destination behind the agent that can keep the undo file on its own machine (RemoteDevice). */
export interface UndoOnAgent {
  /** UNDO_OPEN: the agent creates the file, exclusively; resolves before any write is sent. */
  openUndo(path: string): Promise<void>;
  /** UNDO_FINISH: every write done and flushed, the file completed and durable. */
  finishUndo(): Promise<Omit<DeltaFigures, 'path'>>;
}

interface UndoFile {
  finish(): Promise<DeltaFigures>;
  abandon(): Promise<void>;
}

export class UndoRecorder {
  private constructor(
    readonly device: Device,
    private readonly file: UndoFile,
  ) {}

  static async start(path: string, destination: Device, o: { hash: HashAlgorithm; unitSize: number; codec: CodecSetting }, digest: DigestFunction): Promise<UndoRecorder> {
    if (destination.inProcess) return UndoRecorder.create(path, destination, o, digest);
    const agent = destination as Device & Partial<UndoOnAgent>;
    if (agent.openUndo === undefined || agent.finishUndo === undefined) {
      throw new UsageError(`--undo needs the destination on this machine or behind the agent: ${destination.label} is neither`);
    }
    await agent.openUndo(path);
    // The writes pass through unchanged: the agent saves the old blocks before it writes.
    // A run that fails leaves the file to the agent, which ends it at its last checkpoint.
    return new UndoRecorder(destination, {
      finish: async () => ({ path, ...(await agent.finishUndo!()) }),
      abandon: async () => undefined,
    });
  }

  /** The undo file of a destination opened in this process (basyn's, or the agent's). */
  static async create(path: string, destination: Device, o: { hash: HashAlgorithm; unitSize: number; codec: CodecSetting }, digest: DigestFunction): Promise<UndoRecorder> {
    const writer = await DeltaWriter.create(path, { hash: o.hash, unitSize: o.unitSize, deviceSize: destination.size, kind: 'undo', codec: o.codec });
    return new UndoRecorder(new UndoDestination(destination, writer, digest), writer);
  }

  async finish(): Promise<DeltaFigures> {
    return this.file.finish();
  }

  async abandon(): Promise<void> {
    await this.file.abandon();
  }
}
