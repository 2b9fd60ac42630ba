/** What an engine operation compared and moved; the figures behind --stat and --json. */
export interface TransferCounters {
  /** Blocks whose digests were compared. */
  blocksCompared: number;
  /** Blocks whose digests differed (for COPY: every block). */
  blocksDiffering: number;
  /** Chunks that differed inside differing blocks (with --chunk). */
  chunksDiffering: number;
  /** Blocks or chunks written to the destination. */
  writes: number;
  /** Raw bytes written to the destination. */
  bytesWritten: number;
}

export function emptyCounters(): TransferCounters {
  return { blocksCompared: 0, blocksDiffering: 0, chunksDiffering: 0, writes: 0, bytesWritten: 0 };
}
