/**
 * The machine's own limits, measured in the same bench run as the scenarios they
 * bound: sequential read, single-core digest and zlib throughput, the SSH pipe, and
 * the cost of an SSH connection through the delay proxy. Each is measured once, on
 * first use, `runs` times, and its median kept.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { deflateSync } from 'node:zlib';
import { createBLAKE3, createXXHash128 } from 'hash-wasm';
import { hashByName } from '../src/hash/hash-algorithms.js';
import { readSamplePieces } from './images.js';
import { median } from './stats.js';
import { failureOf, timeCommand } from './timed-run.js';
import type { Log, Workspace } from './workspace.js';

export type CeilingKey = 'read' | `digest:${string}` | `zlib:${number}` | `zstd:${number}` | `zstd-wasm:${number}` | 'ssh-pipe' | `ssh-floor:${number}`;

export interface Ceiling {
  key: CeilingKey;
  label: string;
  unit: 'MB/s' | 's';
  /** Median of the samples. */
  value: number;
  samples: number[];
  /** How it was measured. */
  method: string;
}

const MB = 1e6;
const READ_PIECE = 4 * 1024 * 1024;
const DIGEST_PIECE = 2 * 1024 * 1024;
/** Digest ceilings cycle through this many pieces of the random image. */
const DIGEST_SAMPLE_PIECES = 32;
/** zlib ceilings compress at most this much of the mixed image, evenly spread. */
const ZLIB_SAMPLE_BYTES = 128 * 1024 * 1024;

function seconds(work: () => void): number {
  const started = performance.now();
  work();
  return (performance.now() - started) / 1000;
}

/** Reads the whole file with 4 MiB reads into one reused buffer. */
export function timeSequentialRead(path: string): { bytes: number; seconds: number } {
  const buffer = Buffer.allocUnsafe(READ_PIECE);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    const s = seconds(() => {
      for (let n = readSync(fd, buffer, 0, READ_PIECE, null); n > 0; n = readSync(fd, buffer, 0, READ_PIECE, null)) bytes += n;
    });
    return { bytes, seconds: s };
  } finally {
    closeSync(fd);
  }
}

type OneShotDigest = (data: Uint8Array) => void;

async function digestFunction(hashName: string): Promise<OneShotDigest> {
  const algorithm = hashByName(hashName);
  if (algorithm === undefined) throw new Error(`unknown hash ${hashName}`);
  const nodeName = algorithm.nodeName;
  if (nodeName !== undefined) return (data) => void createHash(nodeName).update(data).digest();
  const hasher = algorithm.name === 'XXH128' ? await createXXHash128() : await createBLAKE3(256);
  return (data) => {
    hasher.init();
    hasher.update(data);
    hasher.digest('binary');
  };
}

/** Digests `totalBytes` on this thread, one digest per piece, cycling through `pieces`. */
export function timeDigest(digest: OneShotDigest, pieces: readonly Buffer[], totalBytes: number): { bytes: number; seconds: number } {
  let bytes = 0;
  const s = seconds(() => {
    for (let i = 0; bytes < totalBytes; i = (i + 1) % pieces.length) {
      digest(pieces[i]!);
      bytes += pieces[i]!.length;
    }
  });
  return { bytes, seconds: s };
}

/** Compresses each piece on its own at `level`, on this thread. */
export function timeZlib(level: number, pieces: readonly Buffer[]): { bytes: number; seconds: number } {
  let bytes = 0;
  const s = seconds(() => {
    for (const piece of pieces) {
      deflateSync(piece, { level });
      bytes += piece.length;
    }
  });
  return { bytes, seconds: s };
}

/** Compresses each piece on its own with zstd at `level`, on this thread (node's zstd, or the WASM build). */
export async function timeZstd(level: number, pieces: readonly Buffer[], wasmOnly: boolean): Promise<{ bytes: number; seconds: number }> {
  const zlib = (await import('node:zlib')) as unknown as Record<string, unknown>;
  const builtin = !wasmOnly && typeof zlib.zstdCompressSync === 'function'
    ? (b: Buffer) => (zlib.zstdCompressSync as (b: Buffer, o: object) => Buffer)(b, { params: { [(zlib.constants as Record<string, number>).ZSTD_c_compressionLevel!]: level } })
    : undefined;
  const compress = builtin ?? ((await import('../src/protocol/zstd-wasm.js')).loadWasmZstd().then((w) => (b: Buffer) => w.compress(b, level)));
  const run = await compress;
  let bytes = 0;
  const s = seconds(() => {
    for (const piece of pieces) {
      run(piece);
      bytes += piece.length;
    }
  });
  return { bytes, seconds: s };
}

export class Ceilings {
  private readonly measured = new Map<CeilingKey, Promise<Ceiling>>();

  constructor(
    private readonly workspace: Workspace,
    private readonly size: number,
    private readonly runs: number,
    private readonly log: Log,
  ) {}

  get(key: CeilingKey): Promise<Ceiling> {
    let ceiling = this.measured.get(key);
    if (ceiling === undefined) {
      ceiling = this.measure(key);
      this.measured.set(key, ceiling);
    }
    return ceiling;
  }

  /** Every ceiling measured so far (failed ones left out). */
  async all(): Promise<Ceiling[]> {
    const settled = await Promise.allSettled(this.measured.values());
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  private async measure(key: CeilingKey): Promise<Ceiling> {
    const [kind, arg] = key.split(':') as [string, string | undefined];
    let ceiling: Ceiling;
    switch (kind) {
      case 'read':
        ceiling = await this.sequentialRead();
        break;
      case 'digest':
        ceiling = await this.digest(arg!);
        break;
      case 'zlib':
        ceiling = await this.zlib(Number(arg));
        break;
      case 'zstd':
      case 'zstd-wasm':
        ceiling = await this.zstd(Number(arg), kind === 'zstd-wasm');
        break;
      case 'ssh-pipe':
        ceiling = await this.sshPipe();
        break;
      case 'ssh-floor':
        ceiling = await this.sshFloor(Number(arg));
        break;
      default:
        throw new Error(`unknown ceiling ${key}`);
    }
    this.log(`ceiling ${ceiling.label}: ${formatCeiling(ceiling)}`);
    return ceiling;
  }

  /** Runs `sample` this.runs times; each returns bytes and seconds; keeps MB/s. */
  private async throughput(
    key: CeilingKey,
    label: string,
    method: string,
    sample: () => Promise<{ bytes: number; seconds: number }>,
  ): Promise<Ceiling> {
    this.log(`measuring ceiling ${label}...`);
    const samples: number[] = [];
    for (let i = 0; i < this.runs; i++) {
      const { bytes, seconds: s } = await sample();
      samples.push(bytes / s / MB);
    }
    return { key, label, unit: 'MB/s', value: median(samples), samples, method };
  }

  private async sequentialRead(): Promise<Ceiling> {
    const path = await this.workspace.randomImage(this.size);
    return this.throughput('read', 'sequential read', 'fs.readSync of 4 MiB into one buffer, whole random image', async () => timeSequentialRead(path));
  }

  private async digest(hashName: string): Promise<Ceiling> {
    const path = await this.workspace.randomImage(this.size);
    const pieces = await readSamplePieces(path, this.size, DIGEST_PIECE, DIGEST_SAMPLE_PIECES);
    const digest = await digestFunction(hashName);
    const how = hashByName(hashName)?.nodeName !== undefined ? 'node:crypto createHash' : 'hash-wasm';
    return this.throughput(`digest:${hashName}`, `${hashName} digest, 1 core`, `${how}, one digest per 2 MiB buffer, ${this.size} bytes`, async () =>
      timeDigest(digest, pieces, this.size),
    );
  }

  private async zlib(level: number): Promise<Ceiling> {
    const path = await this.workspace.mixedImage(this.size);
    const sampleBytes = Math.min(this.size, ZLIB_SAMPLE_BYTES);
    const pieces = await readSamplePieces(path, this.size, DIGEST_PIECE, sampleBytes / DIGEST_PIECE);
    return this.throughput(`zlib:${level}`, `zlib level ${level}, 1 core`, `zlib.deflateSync of 2 MiB pieces, ${sampleBytes} bytes spread over the mixed image`, async () =>
      timeZlib(level, pieces),
    );
  }

  /** zstd of this node (built-in where it has one) or, with `wasmOnly`, the WASM build basyn bundles. */
  private async zstd(level: number, wasmOnly: boolean): Promise<Ceiling> {
    const path = await this.workspace.mixedImage(this.size);
    const sampleBytes = Math.min(this.size, ZLIB_SAMPLE_BYTES);
    const pieces = await readSamplePieces(path, this.size, DIGEST_PIECE, sampleBytes / DIGEST_PIECE);
    const builtin = !wasmOnly && typeof ((await import('node:zlib')) as unknown as Record<string, unknown>).zstdCompressSync === 'function';
    const which = builtin ? `node ${process.version} built-in` : 'WASM';
    const key: CeilingKey = wasmOnly ? `zstd-wasm:${level}` : `zstd:${level}`;
    return this.throughput(key, `zstd level ${level} (${which}), 1 core`, `zstd of 2 MiB pieces, ${sampleBytes} bytes spread over the mixed image, ${which}`, () =>
      timeZstd(level, pieces, wasmOnly),
    );
  }

  private async sshPipe(): Promise<Ceiling> {
    const sshd = await this.workspace.sshd();
    const path = await this.workspace.mixedImage(this.size);
    const script = `cat "$1" | "$2" -p "$3" 127.0.0.1 'cat >/dev/null'`;
    return this.throughput('ssh-pipe', 'ssh pipe', "cat image | ssh -p PORT 127.0.0.1 'cat >/dev/null'", async () => {
      const run = await timeCommand('sh', ['-c', script, 'sh', path, sshd.ssh, String(sshd.port)], { env: sshd.env, timeoutMs: 600_000 });
      const failure = failureOf(run);
      if (failure !== undefined) throw new Error(`ssh pipe failed: ${failure}`);
      return { bytes: this.size, seconds: run.seconds };
    });
  }

  /** `ssh host true` through the proxy: what any SSH run costs before moving data. */
  private async sshFloor(delayMs: number): Promise<Ceiling> {
    const sshd = await this.workspace.sshd();
    const proxy = await this.workspace.proxy(delayMs);
    const label = `ssh true via proxy ${delayMs} ms`;
    this.log(`measuring ${label}...`);
    const samples: number[] = [];
    for (let i = 0; i < this.runs; i++) {
      const run = await timeCommand(sshd.ssh, ['-p', String(proxy.port), '127.0.0.1', 'true'], { env: sshd.env, timeoutMs: 60_000 });
      const failure = failureOf(run);
      if (failure !== undefined) throw new Error(`ssh through the proxy failed: ${failure}`);
      samples.push(run.seconds);
    }
    return { key: `ssh-floor:${delayMs}`, label, unit: 's', value: median(samples), samples, method: `ssh -p PROXYPORT 127.0.0.1 true, ${delayMs} ms one-way delay` };
  }
}

export function formatCeiling(c: Ceiling): string {
  return c.unit === 's' ? `${c.value.toFixed(3)} s` : `${c.value.toFixed(0)} MB/s`;
}
