/**
 * Fresh memory that node's own APIs hand back and that basyn cannot give memory of its
 * own to, counted: zlib's compressed output (zlib.deflate gathers it in 16 KiB chunks
 * and joins them into one more buffer), and what zlib inflates where no memory is
 * given. V8 frees such a buffer, once it has outlived a young-generation collection,
 * only at a full collection, and it starts one when external memory has grown by tens
 * of MiB: with `--compress=zlib`, node 24's agent of a PULL SYNC of 256 MiB to 1 GiB of
 * mixed data peaked at 159-166 MiB, and its command of a PUSH at 169-173. So after
 * every COLLECT_AFTER_BYTES of it, one full collection: about 5 ms of a heap this
 * small, once per 32 MiB compressed, where zlib itself takes a second or so.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

const COLLECT_AFTER_BYTES = 16 * 1024 * 1024;

/** V8's full collection, or null where it cannot be had. */
let collect: (() => void) | null | undefined;
let piled = 0;

function collector(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    // The collection function of a context made with the flag on; the process's own
    // global gains no `gc`, and the flag is off again for anything made later.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    setFlagsFromString('--no-expose-gc');
    collect = typeof gc === 'function' ? () => (gc as () => void)() : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** `bytes` of fresh memory are garbage now or soon: a full collection once enough has piled up. */
export function noteLateGarbage(bytes: number): void {
  piled += bytes;
  if (piled < COLLECT_AFTER_BYTES) return;
  piled = 0;
  collector()?.();
}
