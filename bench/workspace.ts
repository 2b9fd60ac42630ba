/**
 * What the scenarios share, made on first use and reused between runs: the images
 * (in one folder, removed at the end), the sshd, and the delay proxies.
 */
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSshd } from '../src/test-support/sshd.js';
import { formatBytes } from '../src/report/units.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';
import { findProcessMentioning } from './peak-rss.js';
import {
  readSamplePieces,
  writeMixedImage,
  writePreallocatedImage,
  writeRandomImage,
  writeSparseImage,
  zlibRatio,
} from './images.js';

export type Log = (message: string) => void;

export interface ImagePair {
  source: string;
  destination: string;
  size: number;
}

/** The bench's sshd, as basyn and ssh reach it. */
export interface SshTarget {
  host: string;
  port: number;
  /** PATH starts with the ssh wrapper that knows the throwaway keys. */
  env: NodeJS.ProcessEnv;
  /** The ssh wrapper. */
  ssh: string;
  /** Processes the agent descends from (the sshd), for the memory watch. */
  agentRoots: number[];
}

/** The mixed image's zlib ratio is measured on this many small pieces spread over it (64 MiB). */
const RATIO_SAMPLE_PIECES = 256;
const RATIO_SAMPLE_PIECE = 256 * 1024;

export class Workspace {
  private readonly made = new Map<string, Promise<unknown>>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  /** zlib level-1 ratio (compressed / original) of the mixed image, once made. */
  mixedZlib1Ratio: number | undefined;

  private constructor(readonly dir: string, private readonly log: Log) {}

  static async create(parent: string, log: Log): Promise<Workspace> {
    return new Workspace(await mkdtemp(join(parent, 'basyn-bench-')), log);
  }

  private once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let made = this.made.get(key) as Promise<T> | undefined;
    if (made === undefined) {
      made = make();
      this.made.set(key, made);
    }
    return made;
  }

  private async timed<T>(what: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.log(`${what}...`);
    const result = await work();
    this.log(`${what}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return result;
  }

  /** A path in the workspace folder (removed at the end). */
  path(name: string): string {
    return join(this.dir, name);
  }

  sshd(): Promise<SshTarget> {
    return this.once('sshd', async () => {
      const fixture = await startSshd();
      if (typeof fixture === 'string') throw new Error(`no sshd for the SSH scenarios: ${fixture}`);
      this.cleanups.push(() => fixture.stop());
      const sshdPid = findProcessMentioning(join(dirname(fixture.configFile), 'sshd_config'));
      if (sshdPid === undefined) this.log('warning: the sshd process was not found; the agent memory over SSH will be missing');
      this.log(`sshd listening on 127.0.0.1:${fixture.port}`);
      return { host: fixture.host, port: fixture.port, env: fixture.env, ssh: fixture.ssh, agentRoots: sshdPid === undefined ? [] : [sshdPid] };
    });
  }

  /** A proxy in front of the sshd adding `delayMs` each way. */
  proxy(delayMs: number): Promise<DelayProxy> {
    return this.once(`proxy-${delayMs}`, async () => {
      const sshd = await this.sshd();
      // The workspace stops it at the end; a proxy that stopped itself while idle
      // would refuse the scenarios that reuse it minutes after its ceiling was measured.
      const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs, idleStopMs: 24 * 3600_000 });
      this.cleanups.push(() => proxy.stop());
      this.log(`delay proxy (${delayMs} ms each way) on 127.0.0.1:${proxy.port}`);
      return proxy;
    });
  }

  randomImage(size: number, seed = 1): Promise<string> {
    const path = this.path(`random-${seed}-${size}.img`);
    return this.once(path, () => this.timed(`writing ${formatBytes(size)} of random data`, () => writeRandomImage(path, size, seed)).then(() => path));
  }

  /** A random image and a copy of it. */
  identicalRandomPair(size: number, seed = 1): Promise<ImagePair> {
    return this.once(`identical-${seed}-${size}`, async () => {
      const source = await this.randomImage(size, seed);
      const destination = this.path(`random-${seed}-${size}.copy.img`);
      await this.timed(`copying ${formatBytes(size)}`, () => copyFile(source, destination));
      return { source, destination, size };
    });
  }

  mixedImage(size: number): Promise<string> {
    const path = this.path(`mixed-${size}.img`);
    return this.once(path, async () => {
      await this.timed(`writing ${formatBytes(size)} of mixed data from the system's files`, () => writeMixedImage(path, size, 2));
      const ratio = zlibRatio(await readSamplePieces(path, size, RATIO_SAMPLE_PIECE, RATIO_SAMPLE_PIECES), 1);
      this.mixedZlib1Ratio = ratio;
      this.log(`mixed image: zlib level 1 makes a sample ${(100 * ratio).toFixed(1)}% of its size (${(100 * (1 - ratio)).toFixed(1)}% compressible)`);
      return path;
    });
  }

  /** Mixed data and a preallocated destination of the same size, for COPY. */
  mixedCopyPair(size: number): Promise<ImagePair> {
    return this.once(`mixed-copy-${size}`, async () => {
      const source = await this.mixedImage(size);
      const destination = this.path(`mixed-${size}.dest.img`);
      await this.timed(`preallocating ${formatBytes(size)}`, () => writePreallocatedImage(destination, size));
      return { source, destination, size };
    });
  }

  /**
   * Mixed data with every other 2 MiB block left a hole (half zeros), and a
   * preallocated destination: COPY of a half-empty disk, where zero blocks travel as
   * markers.
   */
  halfZeroCopyPair(size: number): Promise<ImagePair> {
    return this.once(`half-zero-copy-${size}`, async () => {
      const mixed = await this.mixedImage(size);
      const source = this.path(`half-zero-${size}.img`);
      const destination = this.path(`half-zero-${size}.dest.img`);
      await this.timed(`writing ${formatBytes(size)} of half-zero data`, () => writeHalfZeroImage(mixed, source, size));
      await this.timed(`preallocating ${formatBytes(size)}`, () => writePreallocatedImage(destination, size));
      return { source, destination, size };
    });
  }

  /** Two all-hole files of `size` bytes. */
  sparsePair(size: number): Promise<ImagePair> {
    return this.once(`sparse-${size}`, async () => {
      const pair = { source: this.path(`sparse-${size}.img`), destination: this.path(`sparse-${size}.copy.img`), size };
      await writeSparseImage(pair.source, size);
      await writeSparseImage(pair.destination, size);
      return pair;
    });
  }

  /** Stops the proxies and the sshd and deletes every image. */
  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Copies the even 2 MiB blocks of `from` into a new sparse file; the odd ones stay holes. */
async function writeHalfZeroImage(from: string, to: string, size: number): Promise<void> {
  const BLOCK = 2 * 1024 * 1024;
  const input = await open(from, 'r');
  const output = await open(to, 'w');
  try {
    await output.truncate(size);
    const buffer = Buffer.allocUnsafe(BLOCK);
    for (let at = 0; at < size; at += 2 * BLOCK) {
      const { bytesRead } = await input.read(buffer, 0, Math.min(BLOCK, size - at), at);
      await output.write(buffer, 0, bytesRead, at);
    }
  } finally {
    await input.close();
    await output.close();
  }
}
