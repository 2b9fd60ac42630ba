/**
 * The digest functions basyn can compare blocks with. The `id` is the byte stored
 * in bitmap file headers and sent in the protocol; ids 0-7 are the original tool's
 * and must never change (docs/bitmap-format.md).
 */
import { createHash } from 'node:crypto';

export interface HashAlgorithm {
  /** Upper-case name as given to --hash. */
  readonly name: string;
  readonly id: number;
  readonly digestLength: number;
  /** Name for node:crypto. */
  readonly nodeName: string;
}

export const HASH_ALGORITHMS: readonly HashAlgorithm[] = [
  { name: 'SHA1', id: 0, digestLength: 20, nodeName: 'sha1' },
  { name: 'SHA224', id: 1, digestLength: 28, nodeName: 'sha224' },
  { name: 'SHA256', id: 2, digestLength: 32, nodeName: 'sha256' },
  { name: 'SHA384', id: 3, digestLength: 48, nodeName: 'sha384' },
  { name: 'SHA512', id: 4, digestLength: 64, nodeName: 'sha512' },
  { name: 'BLAKE2B', id: 5, digestLength: 64, nodeName: 'blake2b512' },
  { name: 'BLAKE2S', id: 6, digestLength: 32, nodeName: 'blake2s256' },
  { name: 'MD5', id: 7, digestLength: 16, nodeName: 'md5' },
];

export const DEFAULT_HASH = 'SHA1';

export function hashByName(name: string): HashAlgorithm | undefined {
  const upper = name.toUpperCase();
  return HASH_ALGORITHMS.find((h) => h.name === upper);
}

export function hashById(id: number): HashAlgorithm | undefined {
  return HASH_ALGORITHMS.find((h) => h.id === id);
}

/** Computes one digest of one buffer, synchronously (the caller decides which thread). */
export type DigestFunction = (data: Uint8Array) => Buffer;

export function digestFunction(algorithm: HashAlgorithm): DigestFunction {
  const nodeName = algorithm.nodeName;
  return (data) => createHash(nodeName).update(data).digest();
}
