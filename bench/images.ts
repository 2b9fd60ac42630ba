/**
 * The bench's images: seeded random data, "mixed" data built from the system's own
 * files with random stretches added until zlib level 1 shrinks it by about 40%,
 * sparse files, and the scattered 4 KiB changes of S3.
 */
import { execFile } from 'node:child_process';
import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import { open, opendir, lstat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflateSync } from 'node:zlib';

const execFileAsync = promisify(execFile);

const MiB = 1024 * 1024;
const WRITE_PIECE = 4 * MiB;

/** Where the mixed image's files come from, in this order (cycled if they run out). */
export const SYSTEM_ROOTS = ['/usr/bin', '/usr/lib', '/usr/share/doc'];
/** Compressed size / original size aimed at for the mixed image (zlib level 1). */
export const MIXED_TARGET_RATIO = 0.6;
/** Only the head of a big file is used, so one library can't dominate the image. */
const MAX_BYTES_PER_FILE = 8 * MiB;

/** A seeded stream of random bytes: AES-128-CTR over zeros (fast, reproducible). */
export class SeededRandom {
  private readonly cipher: Cipher;
  private state: number;

  constructor(seed: number) {
    const key = createHash('sha256').update(`basyn-bench-${seed}`).digest();
    this.cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
    this.state = seed >>> 0 || 1;
  }

  bytes(length: number): Buffer {
    return this.cipher.update(Buffer.alloc(length));
  }

  /** A whole number in [min, max) (mulberry32). */
  integer(min: number, max: number): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return min + Math.floor(unit * (max - min));
  }
}

/** Writes buffers to a new file in pieces of WRITE_PIECE, stopping exactly at `size`. */
class ImageWriter {
  written = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  private constructor(private readonly handle: FileHandle, readonly size: number) {}

  static async create(path: string, size: number): Promise<ImageWriter> {
    return new ImageWriter(await open(path, 'w'), size);
  }

  get full(): boolean {
    return this.written + this.pendingBytes >= this.size;
  }

  async append(data: Buffer): Promise<void> {
    const room = this.size - this.written - this.pendingBytes;
    const piece = data.length > room ? data.subarray(0, room) : data;
    this.pending.push(piece);
    this.pendingBytes += piece.length;
    if (this.pendingBytes >= WRITE_PIECE || this.full) await this.flush();
  }

  private async flush(): Promise<void> {
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.handle.write(data, 0, data.length, this.written);
    this.written += data.length;
  }

  async close(): Promise<void> {
    if (this.pendingBytes > 0) await this.flush();
    await this.handle.close();
  }
}

export async function writeRandomImage(path: string, size: number, seed: number): Promise<void> {
  const random = new SeededRandom(seed);
  const writer = await ImageWriter.create(path, size);
  try {
    while (!writer.full) await writer.append(random.bytes(Math.min(WRITE_PIECE, size - writer.written)));
  } finally {
    await writer.close();
  }
}

/** Regular files under `roots`, depth first in name order, skipping what can't be read. */
async function* systemFiles(roots: readonly string[]): AsyncGenerator<string> {
  for (const root of roots) yield* filesUnder(root);
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
  let names: string[];
  try {
    const entries = [];
    for await (const entry of await opendir(dir)) entries.push(entry.name);
    names = entries.sort();
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    const info = await lstat(path).catch(() => undefined);
    if (info?.isDirectory()) yield* filesUnder(path);
    else if (info?.isFile() && info.size > 0) yield path;
  }
}

async function readHead(path: string, limit: number): Promise<Buffer | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(limit);
    const { bytesRead } = await handle.read(buffer, 0, limit, 0);
    return bytesRead > 0 ? buffer.subarray(0, bytesRead) : undefined;
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** The system's files, over and over (the roots are walked again when exhausted). */
async function* endlessSystemData(roots: readonly string[]): AsyncGenerator<Buffer> {
  for (;;) {
    let any = false;
    for await (const path of systemFiles(roots)) {
      const data = await readHead(path, MAX_BYTES_PER_FILE);
      if (data === undefined) continue;
      any = true;
      yield data;
    }
    if (!any) throw new Error(`no readable files under ${roots.join(', ')} to build the mixed image from`);
  }
}

/**
 * System files concatenated, with random stretches (256 KiB to 3 MiB, like
 * already-compressed media) inserted whenever the running zlib level-1 estimate
 * falls below MIXED_TARGET_RATIO, so the image as a whole lands near it.
 */
export async function writeMixedImage(path: string, size: number, seed: number): Promise<void> {
  const random = new SeededRandom(seed);
  const writer = await ImageWriter.create(path, size);
  const files = endlessSystemData(SYSTEM_ROOTS);
  let compressedEstimate = 0;
  let appended = 0;
  try {
    while (!writer.full) {
      let data: Buffer;
      if (appended > 0 && compressedEstimate / appended < MIXED_TARGET_RATIO) {
        data = random.bytes(random.integer(256 * 1024, 3 * MiB));
        compressedEstimate += data.length;
      } else {
        data = (await files.next()).value as Buffer;
        compressedEstimate += deflateSync(data, { level: 1 }).length;
      }
      appended += data.length;
      await writer.append(data);
    }
  } finally {
    await files.return(undefined);
    await writer.close();
  }
}

/** A file of `size` bytes that are all holes (reads as zeros). */
export async function writeSparseImage(path: string, size: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/** A file of `size` bytes with its space allocated (fallocate, else written zeros). */
export async function writePreallocatedImage(path: string, size: number): Promise<void> {
  try {
    await execFileAsync('fallocate', ['-l', String(size), path]);
    return;
  } catch {
    // no fallocate (or the file system refuses it): write the zeros
  }
  const writer = await ImageWriter.create(path, size);
  const zeros = Buffer.alloc(WRITE_PIECE);
  try {
    while (!writer.full) await writer.append(zeros);
  } finally {
    await writer.close();
  }
}

/** `count` pieces of `pieceSize` bytes read at evenly spaced offsets of the file. */
export async function readSamplePieces(path: string, size: number, pieceSize: number, count: number): Promise<Buffer[]> {
  const pieces = Math.max(1, Math.min(count, Math.floor(size / pieceSize)));
  const stride = Math.floor(size / pieces / pieceSize) * pieceSize;
  const handle = await open(path, 'r');
  try {
    const out: Buffer[] = [];
    for (let i = 0; i < pieces; i++) {
      const buffer = Buffer.alloc(pieceSize);
      await handle.read(buffer, 0, pieceSize, i * stride);
      out.push(buffer);
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** Compressed size / original size of `pieces` at zlib `level`. */
export function zlibRatio(pieces: readonly Buffer[], level: number): number {
  let original = 0;
  let compressed = 0;
  for (const piece of pieces) {
    original += piece.length;
    compressed += deflateSync(piece, { level }).length;
  }
  return compressed / original;
}

export interface BlockChanges {
  /** Offsets of the changed bytes, one run of `length` bytes in each changed block. */
  offsets: number[];
  length: number;
}

/** How many of the `blockSize` blocks make `fraction` of them (at least one). */
export function changedBlockCount(size: number, blockSize: number, fraction: number): number {
  const blocks = Math.floor(size / blockSize);
  return Math.min(blocks, Math.max(1, Math.round(blocks * fraction)));
}

/** About `fraction` of the `blockSize` blocks, each with one `length`-byte run changed. */
export function chooseBlockChanges(size: number, blockSize: number, fraction: number, length: number, seed: number): BlockChanges {
  const blocks = Math.floor(size / blockSize);
  const count = changedBlockCount(size, blockSize, fraction);
  const random = new SeededRandom(seed);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(random.integer(0, blocks));
  const offsets = [...chosen]
    .sort((a, b) => a - b)
    .map((block) => block * blockSize + random.integer(0, blockSize / length) * length);
  return { offsets, length };
}

/** Overwrites each change's bytes with random ones (the same ones for the same seed). */
export async function applyBlockChanges(path: string, changes: BlockChanges, seed: number): Promise<void> {
  const random = new SeededRandom(seed);
  const handle = await open(path, 'r+');
  try {
    for (const offset of changes.offsets) await handle.write(random.bytes(changes.length), 0, changes.length, offset);
  } finally {
    await handle.close();
  }
}

/** Copies the changed runs back from `source`, making `destination` equal to it again. */
export async function undoBlockChanges(source: string, destination: string, changes: BlockChanges): Promise<void> {
  const from = await open(source, 'r');
  const to = await open(destination, 'r+');
  try {
    const buffer = Buffer.alloc(changes.length);
    for (const offset of changes.offsets) {
      await from.read(buffer, 0, changes.length, offset);
      await to.write(buffer, 0, changes.length, offset);
    }
  } finally {
    await from.close();
    await to.close();
  }
}
