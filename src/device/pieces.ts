/**
 * Block data is read, sent and written in pieces of at most PIECE_BYTES, whatever the
 * block size: a block is the unit of comparison (one digest, one bitmap entry), not of
 * memory. With --buffer 65536 a whole block held in each of the places it passes
 * through (read-ahead, a private copy, a frame being reassembled, a write queued) was
 * hundreds of MiB; in pieces it is a few times 4 MiB. Pieces of one block are written
 * in order, and a block is written in full or the run fails, as before.
 */
import type { IncrementalDigest } from '../hash/hash-algorithms.js';
import { SLAB_WORTHWHILE, SlabPool, type PooledCopy } from '../util/slab-pool.js';
import type { Device } from './device.js';

export const PIECE_BYTES = 4 * 1024 * 1024;
/** Piece reads kept in flight while copying a long range (each READ to an agent is a round trip). */
const READS_AHEAD = 3;

/** How many of the blocks of `blockSize` (counted from offset 0) start in [offset, offset + length). */
export function blocksStartingIn(offset: number, length: number, blockSize: number): number {
  return Math.ceil((offset + length) / blockSize) - Math.ceil(offset / blockSize);
}

/** The pieces of [offset, offset + length), in order. */
export function* piecesOf(offset: number, length: number, pieceBytes = PIECE_BYTES): Generator<{ offset: number; length: number }> {
  for (let at = 0; at < length; at += pieceBytes) yield { offset: offset + at, length: Math.min(pieceBytes, length - at) };
}

/**
 * Memory the pieces of copyRange are read into, held by the destination until written
 * (WriteOptions.written) and then read into again. A fresh buffer per piece was
 * garbage the collector freed tens of MiB late: the command of a SYNC PUSH of 256 MiB
 * of mixed data through the agent held 82 MiB of dead 2 MiB reads. Lent to a write
 * that copied it (`borrowed`), each piece was held twice.
 */
const readTargets = new SlabPool(PIECE_BYTES);

/**
 * Copies [offset, offset + length) from `source` to `destination` a piece at a time,
 * with a few piece reads in flight so a remote source is not asked one round trip at a
 * time. Resolves once the last piece is queued (as Device.write does). `hasher`, when
 * given (initialised), is fed the pieces in order: the digest of exactly what was written.
 */
export async function copyRange(source: Device, destination: Device, offset: number, length: number, hasher?: IncrementalDigest): Promise<void> {
  const reads: { offset: number; target: PooledCopy | undefined; data: Promise<Buffer> }[] = [];
  const pieces = piecesOf(offset, length);
  const readMore = (): void => {
    while (reads.length < READS_AHEAD) {
      const p = pieces.next();
      if (p.done === true) return;
      // A small read is cheap young garbage: given to the write, not lent (slab-pool.ts).
      const target = p.value.length >= SLAB_WORTHWHILE ? readTargets.take(p.value.length) : undefined;
      const data = source.read(p.value.offset, p.value.length, target?.buffer);
      data.catch(() => undefined); // awaited in order below
      reads.push({ offset: p.value.offset, target, data });
    }
  };
  let current: (typeof reads)[number] | undefined;
  try {
    readMore();
    while (reads.length > 0) {
      current = reads.shift()!;
      const data = await current.data;
      readMore();
      hasher?.update(data);
      const { offset: at, target } = current;
      current = undefined;
      if (target === undefined || data.buffer !== target.buffer.buffer || data.byteOffset !== target.buffer.byteOffset) {
        // The device's own memory (the shared zeros, a fresh block): the target was not used.
        target?.release();
        await destination.write(at, data);
        continue;
      }
      // Read into the target: the destination holds it until written, and gives it back.
      try {
        await destination.write(at, data, { written: target.release });
      } catch (error) {
        target.release(); // a write that rejects kept nothing of it
        throw error;
      }
    }
  } finally {
    // Reads still in flight may land in their targets yet: that memory goes back once they have.
    for (const r of [...(current === undefined ? [] : [current]), ...reads.splice(0)]) {
      const release = (): void => r.target?.release();
      void r.data.then(release, release);
    }
  }
}

/**
 * Reads [offset, offset + length) into `into` (at least `length` bytes) a piece at a
 * time: a remote device never sends (nor this process reassembles) a frame longer than
 * a piece.
 */
export async function readInPieces(device: Device, offset: number, length: number, into: Buffer): Promise<Buffer> {
  const reads: Promise<void>[] = [];
  let failure: unknown;
  for (const p of piecesOf(offset, length)) {
    if (reads.length >= READS_AHEAD) await reads.shift();
    if (failure !== undefined) break;
    // Read into its place where the device can (a remote one then gives its frame back at once).
    const place = into.subarray(p.offset - offset, p.offset - offset + p.length);
    const read = device.read(p.offset, p.length, place).then(
      (data) => void (data.buffer === place.buffer && data.byteOffset === place.byteOffset ? undefined : data.copy(place)),
      (error: unknown) => void (failure ??= error),
    );
    reads.push(read);
  }
  await Promise.all(reads);
  if (failure !== undefined) throw failure;
  return into.subarray(0, length);
}
