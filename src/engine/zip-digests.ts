/** Walks two digest streams of the same range in step, checking they agree on the blocks. */
import { ProtocolError } from '../errors.js';
import type { BlockDigest } from '../device/device.js';

export async function* zipDigests(
  a: AsyncIterable<BlockDigest>,
  b: AsyncIterable<BlockDigest>,
): AsyncGenerator<[BlockDigest, BlockDigest]> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  try {
    for (;;) {
      const [x, y] = await Promise.all([ia.next(), ib.next()]);
      if (x.done === true || y.done === true) {
        if (x.done !== y.done) throw new ProtocolError('digest streams of the two devices ended at different blocks');
        return;
      }
      if (x.value.offset !== y.value.offset || x.value.length !== y.value.length) {
        throw new ProtocolError(`digest streams out of step: ${x.value.offset}+${x.value.length} against ${y.value.offset}+${y.value.length}`);
      }
      yield [x.value, y.value];
    }
  } finally {
    // Not awaited: a generator still inside next() would make return() wait for it.
    void ia.return?.(undefined).catch(() => undefined);
    void ib.return?.(undefined).catch(() => undefined);
  }
}
