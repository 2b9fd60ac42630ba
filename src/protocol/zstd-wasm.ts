/**
 * zstd compiled to WebAssembly (@hpcc-js/wasm-zstd), for a node without a built-in
 * zstd (before 22.15 / 23.8). Kept in its own module and imported only when zstd is
 * used on such a node, so the WASM is compiled only then, and a bundle that must not
 * carry it can mark the package external (zstd.ts then has no zstd to offer).
 *
 * The package's own compress()/decompress() copy their result out of the WASM heap
 * by spreading it into an array, about a second per MiB: this calls the functions
 * under them (the C API's ZSTD_compress / ZSTD_decompress, exposed by the same
 * object) and copies with one memcpy. The package is pinned to an exact version for
 * that reason; the codec tests fail if those members change.
 */
import type { Zstd } from '@hpcc-js/wasm-zstd';
import { loadPiece } from '../pieces/agent-pieces.js';

export interface ZstdEngine {
  compress(data: Uint8Array, level: number): Buffer;
  /**
   * Compresses `data` and copies the frame into `target` (which may be the memory
   * `data` is in: the frame is copied out of the WASM heap after compressing); its
   * length, or undefined when the frame is longer than `target`, which is then left
   * as it was (zstd-worker.ts counts on that: its input is still the block).
   */
  compressInto(data: Uint8Array, level: number, target: Uint8Array): number | undefined;
  /** Decompresses into exactly `capacity` bytes at most; throws on a corrupt frame. */
  decompress(frame: Uint8Array, capacity: number): Buffer;
  /** The same, into `target` (its length is the capacity): the length decompressed. */
  decompressInto(frame: Uint8Array, target: Uint8Array): number;
}

interface HeapBlock {
  ptr: number;
  size: number;
}

/** The members of Zstd that its public methods are built on. */
interface ZstdInternals {
  _zstdClass: {
    compress(dst: number, dstCapacity: number, src: number, srcSize: number, level: number): number;
    decompress(dst: number, dstCapacity: number, src: number, srcSize: number): number;
    compressBound(size: number): number;
    isError(code: number): boolean;
    getErrorName(code: number): string;
  };
  _mainModule: {
    malloc(size: number): HeapBlock;
    free(block: HeapBlock): void;
    dataToHeap(data: Uint8Array): HeapBlock;
    heapView(block: HeapBlock): Uint8Array;
  };
}

export async function loadWasmZstd(): Promise<ZstdEngine> {
  // A piece (pieces/agent-pieces.ts): the agent has it only when the run sent it.
  const { Zstd: zstdClass } = loadPiece<{ Zstd: typeof Zstd }>('zstd');
  const zstd = (await zstdClass.load()) as unknown as ZstdInternals;
  const api = zstd._zstdClass;
  const heap = zstd._mainModule;
  if (typeof api?.decompress !== 'function' || typeof heap?.heapView !== 'function') {
    throw new Error('@hpcc-js/wasm-zstd does not have the members basyn calls');
  }
  const run = <T>(src: Uint8Array, capacity: number, call: (dst: number, srcBlock: HeapBlock) => number, take: (frame: Uint8Array) => T): T => {
    const input = heap.dataToHeap(src);
    const output = heap.malloc(Math.max(1, capacity));
    try {
      const n = call(output.ptr, input);
      if (api.isError(n)) throw new Error(api.getErrorName(n));
      return take(heap.heapView({ ptr: output.ptr, size: n }));
    } finally {
      heap.free(output);
      heap.free(input);
    }
  };
  const copyOut = (frame: Uint8Array): Buffer => Buffer.from(frame);
  const compress = <T>(data: Uint8Array, level: number, take: (frame: Uint8Array) => T): T => {
    const capacity = api.compressBound(data.length);
    return run(data, capacity, (dst, src) => api.compress(dst, capacity, src.ptr, src.size, level), take);
  };
  return {
    compress: (data, level) => compress(data, level, copyOut),
    compressInto: (data, level, target) =>
      compress(data, level, (frame) => {
        if (frame.length > target.length) return undefined;
        target.set(frame);
        return frame.length;
      }),
    decompress: (frame, capacity) => run(frame, capacity, (dst, src) => api.decompress(dst, capacity, src.ptr, src.size), copyOut),
    decompressInto: (frame, target) =>
      run(frame, target.length, (dst, src) => api.decompress(dst, target.length, src.ptr, src.size), (out) => {
        target.set(out);
        return out.length;
      }),
  };
}
