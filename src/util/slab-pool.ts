/**
 * Private copies of small buffers, made in a few large reused slabs instead of one
 * fresh allocation each. A SYNC of 4 KiB blocks that all differ made 16384 copies of
 * 4 KiB per 64 MiB: each its own ArrayBuffer, dead a moment later, yet freed only when
 * the garbage collector came round, which it did tens of MiB late. Here a slab goes
 * back to the free list as soon as every copy in it is released, and is filled again.
 *
 * Whoever takes a copy must release it exactly once, when nothing reads it any more;
 * memory in use is then bounded by the copies alive (the window that holds them) plus
 * one slab.
 */
interface Slab {
  memory: Buffer;
  used: number;
  live: number;
}

export interface PooledCopy {
  buffer: Buffer;
  release(): void;
}

/** A release for memory nobody needs to give back (the collector takes it). */
export const NOTHING_TO_RELEASE = (): void => undefined;

/**
 * Copies of blocks from this size up are worth a slab to whoever passes a block on to a
 * device that copies what it keeps (engine/sync.ts, device/pieces.ts): a dead buffer of
 * 64 KiB and more is external memory the collector frees late. Smaller copies are cheap
 * young garbage (under 4 KiB from node's own pool), and lending them to a write that
 * copies them again cost more: a SYNC PUSH of random 1 KiB blocks through the agent
 * peaked at 144-161 MiB with slab copies, 133-135 without.
 */
export const SLAB_WORTHWHILE = 64 * 1024;

/** A private copy of `data`, from `pool` when it is large enough to be worth one. */
export function privateCopy(pool: SlabPool, data: Uint8Array): PooledCopy {
  return data.length >= SLAB_WORTHWHILE ? pool.copy(data) : { buffer: Buffer.from(data), release: NOTHING_TO_RELEASE };
}

export class SlabPool {
  private current: Slab | undefined;
  private readonly free: Slab[] = [];

  /** `slabBytes`: the size of each slab; a buffer longer than that gets its own copy. */
  constructor(private slabBytes: number) {}

  /**
   * Slabs of `slabBytes` from now on (the agent's, once a session's block size is
   * known): free slabs of another size are dropped, and copies still held stay valid.
   */
  resize(slabBytes: number): void {
    if (slabBytes === this.slabBytes) return;
    this.slabBytes = slabBytes;
    this.free.length = 0;
    if (this.current !== undefined && this.current.live === 0) this.current = undefined;
    else if (this.current !== undefined) this.retire(this.current);
  }

  /** True when `length` bytes come from a slab (longer ones are fresh memory of their own). */
  fits(length: number): boolean {
    return length > 0 && length <= this.slabBytes;
  }

  copy(data: Uint8Array): PooledCopy {
    if (data.length > this.slabBytes || data.length === 0) return { buffer: Buffer.from(data), release: NOTHING_TO_RELEASE };
    const taken = this.take(data.length);
    taken.buffer.set(data);
    return taken;
  }

  /** `length` bytes of slab memory, uninitialised (a read's target): released as a copy is. */
  take(length: number): PooledCopy {
    if (length > this.slabBytes || length === 0) return { buffer: Buffer.allocUnsafeSlow(length), release: NOTHING_TO_RELEASE };
    let slab = this.current;
    if (slab !== undefined && slab.live === 0) slab.used = 0;
    if (slab === undefined || slab.used + length > this.slabBytes) {
      if (slab !== undefined) this.retire(slab);
      slab = this.free.pop() ?? { memory: Buffer.allocUnsafeSlow(this.slabBytes), used: 0, live: 0 };
      slab.used = 0;
      this.current = slab;
    }
    const buffer = slab.memory.subarray(slab.used, slab.used + length);
    // 8-byte aligned, as fresh allocations are.
    slab.used += (length + 7) & ~7;
    slab.live++;
    let released = false;
    const owner = slab;
    return {
      buffer,
      release: () => {
        if (released) return;
        released = true;
        owner.live--;
        if (owner.live === 0 && owner !== this.current && owner.memory.length === this.slabBytes) this.free.push(owner);
      },
    };
  }

  /** The slab being filled is full: it is free again once its last copy is released. */
  private retire(slab: Slab): void {
    this.current = undefined;
    if (slab.live === 0 && slab.memory.length === this.slabBytes) this.free.push(slab);
  }
}
