/**
 * --hash=auto, the default: which digest a run compares with when none is named.
 *
 * Without a bitmap a digest only decides which blocks move between two basyn ends of
 * this very run, so the fastest one that catches accidental change is right (rsync
 * 3.2 compares with xxh128 for the same reason): XXH128. A bitmap outlives the run and
 * is read again by later runs, also by the original tool, whose bitmaps hold SHA1 when
 * made with its defaults: SHA1 there, so both tools' bitmaps keep loading with default
 * options. COPY compares nothing (only its --recheck does). A named --hash always wins.
 */
import { hashByName, type HashAlgorithm } from './hash-algorithms.js';
import type { Mode } from '../options/options.js';

/** What --hash takes besides the names of the digests. */
export const AUTO_HASH = 'AUTO';

/** A --hash value as read: a digest, or "auto" still to be resolved. */
export type HashChoice = HashAlgorithm | typeof AUTO_HASH;

export interface RunShapeForHash {
  mode?: Mode;
  bitmap?: string;
  recheck?: boolean;
}

/** The digest "auto" stands for in a run of this shape, and why, for --debug. */
export function autoHash(run: RunShapeForHash): { hash: HashAlgorithm; why: string } {
  if (run.bitmap !== undefined) return { hash: hashByName('SHA1')!, why: 'a bitmap is kept in SHA1, as the original tool keeps it by default' };
  if (run.mode === 'COPY' && run.recheck !== true) return { hash: hashByName('SHA1')!, why: 'COPY compares no digests' };
  return { hash: hashByName('XXH128')!, why: 'digests are only compared within this run (no bitmap)' };
}

/** The --debug line naming the run's digest. */
export function describeDigestChoice(hash: HashAlgorithm, auto: boolean, run: RunShapeForHash): string {
  if (!auto) return `digest: ${hash.name} (--hash)`;
  if (run.mode === 'COPY' && run.recheck !== true && run.bitmap === undefined) return 'digest: none needed (COPY compares no digests; --hash=auto)';
  return `digest: ${hash.name} (--hash=auto: ${autoHash(run).why})`;
}
