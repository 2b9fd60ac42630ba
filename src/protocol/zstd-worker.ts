/**
 * A zstd thread: compresses off the event loop with node's own zstd where it has one
 * (zstd-builtin-engine.ts), with the WASM build (zstd-wasm.ts) otherwise. Each job's input arrives in an ArrayBuffer transferred to the
 * thread, and goes back, transferred again. A compressed block goes back in that same
 * buffer, over its input, so a thread allocates nothing per block (a fresh output per
 * block was garbage the collector freed late: tens of MiB of RSS in a COPY); the pool
 * copies the frame out into its slabs.
 * Bundled to dist/zstd-worker.cjs and started with eval (as digest-worker.ts), so it
 * also runs inside the agent, which has no files of its own on the remote host.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { providePieces } from '../pieces/agent-pieces.js';
import { loadWasmZstd } from './zstd-wasm.js';
import { builtinZstdEngine } from './zstd-builtin-engine.js';

/** One at a time per thread, so a result needs no id. */
export interface ZstdJob {
  /** Compress at `level`, or decompress into at most `capacity` bytes. */
  op: 'compress' | 'decompress';
  input: ArrayBuffer;
  length: number;
  level: number;
  capacity: number;
}

export interface ZstdJobResult {
  input: ArrayBuffer;
  /** A frame that fits in `input` is written there: its length. */
  inPlace?: number;
  /** Compressing did not shrink the block: `input` holds it still, unchanged. */
  raw?: true;
  output?: ArrayBuffer;
  /** The engine's error name (a corrupt frame), when there is no output. */
  error?: string;
}

const data = workerData as { pieces: Record<string, string> };
providePieces(data.pieces);
// node's own zstd where it has one (zstd-builtin-engine.ts), as zstd.ts chooses.
const builtin = process.env.BASYN_ZSTD === 'wasm' ? undefined : builtinZstdEngine();
void (builtin !== undefined ? Promise.resolve(builtin) : loadWasmZstd()).then(
  (engine) => {
    const port = parentPort!;
    port.on('message', (job: ZstdJob) => {
      const input = new Uint8Array(job.input, 0, job.length);
      let result: ZstdJobResult;
      try {
        if (job.op === 'compress') {
          // Room for a frame shorter than the block only: one no shorter goes raw (block-codec.ts),
          // and the engines write nothing into a target too short, so `input` still holds it.
          const n = engine.compressInto(input, job.level, new Uint8Array(job.input, 0, job.length - 1));
          result = n === undefined ? { input: job.input, raw: true } : { input: job.input, inPlace: n };
          port.postMessage(result, [job.input]);
          return;
        }
        const out = engine.decompress(input, job.capacity);
        // engine's output is a fresh Buffer of its own (one memcpy out of the WASM heap).
        const output = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? (out.buffer as ArrayBuffer) : out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
        result = { input: job.input, output };
        port.postMessage(result, [job.input, output]);
      } catch (error) {
        result = { input: job.input, error: (error as Error).message };
        port.postMessage(result, [job.input]);
      }
    });
    port.postMessage('ready');
  },
  (error: unknown) => parentPort!.postMessage({ failed: (error as Error).message }),
);
