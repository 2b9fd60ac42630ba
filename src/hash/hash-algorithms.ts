/**
 * The digest functions basyn can compare blocks with. The `id` is the byte stored
 * in bitmap file headers and sent in the protocol; ids 0-7 are the original tool's
 * and must never change (docs/bitmap-format.md). XXH128 and BLAKE3 are WebAssembly
 * (hash-wasm), pieces sent to the agent by the runs that use them (pieces/agent-pieces.ts),
 * so the remote host needs nothing installed and other runs carry none of it.
 */
import { createHash } from 'node:crypto';
import type { IHasher } from 'hash-wasm';
import { loadPiece, type PieceName } from '../pieces/agent-pieces.js';

export interface HashAlgorithm {
  /** Upper-case name as given to --hash. */
  readonly name: string;
  readonly id: number;
  readonly digestLength: number;
  /** Name for node:crypto, or undefined for the WebAssembly ones. */
  readonly nodeName?: string;
  /** Collision-resistant against an adversary (XXH128 is not: it guards against accidents only). */
  readonly cryptographic: boolean;
  /** The piece (WebAssembly module) it is computed with, for the ones node:crypto lacks. */
  readonly piece?: PieceName;
}

export const HASH_ALGORITHMS: readonly HashAlgorithm[] = [
  { name: 'SHA1', id: 0, digestLength: 20, nodeName: 'sha1', cryptographic: true },
  { name: 'SHA224', id: 1, digestLength: 28, nodeName: 'sha224', cryptographic: true },
  { name: 'SHA256', id: 2, digestLength: 32, nodeName: 'sha256', cryptographic: true },
  { name: 'SHA384', id: 3, digestLength: 48, nodeName: 'sha384', cryptographic: true },
  { name: 'SHA512', id: 4, digestLength: 64, nodeName: 'sha512', cryptographic: true },
  { name: 'BLAKE2B', id: 5, digestLength: 64, nodeName: 'blake2b512', cryptographic: true },
  { name: 'BLAKE2S', id: 6, digestLength: 32, nodeName: 'blake2s256', cryptographic: true },
  { name: 'MD5', id: 7, digestLength: 16, nodeName: 'md5', cryptographic: true },
  { name: 'XXH128', id: 8, digestLength: 16, cryptographic: false, piece: 'xxh128' },
  { name: 'BLAKE3', id: 9, digestLength: 32, cryptographic: true, piece: 'blake3' },
];

/** --hash when not given: chosen per run (auto-hash.ts). */
export const DEFAULT_HASH = 'auto';

export function hashByName(name: string): HashAlgorithm | undefined {
  const upper = name.toUpperCase();
  return HASH_ALGORITHMS.find((h) => h.name === upper);
}

export function hashById(id: number): HashAlgorithm | undefined {
  return HASH_ALGORITHMS.find((h) => h.id === id);
}

/** The ids this build knows, for a message about one it does not: "0 (SHA1) to 9 (BLAKE3)". */
export function knownHashIds(): string {
  const first = HASH_ALGORITHMS[0]!;
  const last = HASH_ALGORITHMS.at(-1)!;
  return `${first.id} (${first.name}) to ${last.id} (${last.name})`;
}

/** Computes one digest of one buffer, synchronously (the caller decides which thread). */
export type DigestFunction = (data: Uint8Array) => Buffer;

/** The digest function of `algorithm` (WebAssembly ones are instantiated first). */
export async function loadDigest(algorithm: HashAlgorithm): Promise<DigestFunction> {
  const nodeName = algorithm.nodeName;
  if (nodeName !== undefined) return (data) => createHash(nodeName).update(data).digest();
  // Instantiated on first use: most runs use node:crypto and need not compile the WebAssembly.
  const hasher = algorithm.piece === 'xxh128'
    ? await loadPiece<{ createXXHash128(): Promise<IHasher> }>('xxh128').createXXHash128()
    : await loadPiece<{ createBLAKE3(bits: number): Promise<IHasher> }>('blake3').createBLAKE3(256);
  return (data) => {
    hasher.init();
    hasher.update(data);
    return Buffer.from(hasher.digest('binary'));
  };
}

/** One digest fed a piece at a time: for blocks too long to hold whole (init, update..., digest). */
export interface IncrementalDigest {
  init(): void;
  update(data: Uint8Array): void;
  digest(): Buffer;
}

/** An incremental digest of `algorithm`; one block at a time per instance. */
export async function loadIncrementalDigest(algorithm: HashAlgorithm): Promise<IncrementalDigest> {
  const nodeName = algorithm.nodeName;
  if (nodeName !== undefined) {
    let hash = createHash(nodeName);
    return { init: () => void (hash = createHash(nodeName)), update: (data) => void hash.update(data), digest: () => hash.digest() };
  }
  // From the pieces, as loadDigest: the agent bundle carries no WebAssembly of its own.
  const hasher = algorithm.piece === 'xxh128'
    ? await loadPiece<{ createXXHash128(): Promise<IHasher> }>('xxh128').createXXHash128()
    : await loadPiece<{ createBLAKE3(bits: number): Promise<IHasher> }>('blake3').createBLAKE3(256);
  return { init: () => void hasher.init(), update: (data) => void hasher.update(data), digest: () => Buffer.from(hasher.digest('binary')) };
}
