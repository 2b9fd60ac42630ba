/**
 * What an end of a session can do, as it says in its HELLO (protocol 2): a list of
 * entries, each a u8 capability id, a u16 length and that many bytes of value. An
 * end skips the entries it does not know, so a later build can add one without a
 * new protocol version: new ids are allocated here, one constant each.
 */
import { Encoding } from './protocol.js';

export interface Capability {
  readonly id: number;
  readonly value: Buffer;
}

export const enum CapabilityId {
  /** Value: one byte per block encoding this end both compresses and decompresses. */
  Codecs = 0x01,
}

/** The CODECS entry for these encodings. */
export function codecsCapability(encodings: readonly Encoding[]): Capability {
  return { id: CapabilityId.Codecs, value: Buffer.from(encodings) };
}

/**
 * The encodings a peer announced. A peer without a CODECS entry is taken to know the
 * encodings of protocol 1 (raw, zlib, zero), which every build has.
 */
export function codecsOf(capabilities: readonly Capability[]): Set<Encoding> {
  const entry = capabilities.find((c) => c.id === CapabilityId.Codecs);
  if (entry === undefined) return new Set([Encoding.Raw, Encoding.Zlib, Encoding.Zero]);
  return new Set([...entry.value] as Encoding[]);
}
