/**
 * Image files for tests: seeded pseudo-random content (so a failure can be
 * reproduced), scattered changes, and byte comparison with the system's `cmp`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** xorshift128+: fast, seedable, good enough to make incompressible test data. */
export function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let s0 = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  let s1 = (BigInt(seed) ^ 0xdeadbeefcafebaben) | 1n;
  const mask = (1n << 64n) - 1n;
  let i = 0;
  while (i + 8 <= length) {
    let x = s0;
    const y = s1;
    s0 = y;
    x = (x ^ (x << 23n)) & mask;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    out.writeBigUInt64LE((s1 + y) & mask, i);
    i += 8;
  }
  for (; i < length; i++) out[i] = (i * 131 + seed) & 0xff;
  return out;
}

/** Faster for big images: a seeded 1 MiB pattern, each MiB xor-ed with its index so no two blocks match. */
export function seededImage(length: number, seed: number): Buffer {
  const unit = 1024 * 1024;
  const base = seededBytes(Math.min(unit, length), seed);
  if (length <= unit) return base;
  const out = Buffer.allocUnsafe(length);
  for (let at = 0, k = 0; at < length; at += unit, k++) {
    const n = Math.min(unit, length - at);
    base.copy(out, at, 0, n);
    for (let j = 0; j + 4 <= n; j += 4096) out.writeUInt32LE((k * 2654435761 + j) >>> 0, at + j);
  }
  return out;
}

export async function writeImage(path: string, length: number, seed: number): Promise<void> {
  await writeFile(path, seededImage(length, seed));
}

/** Overwrites `length` bytes at each offset with new seeded bytes (different from what was there, for any seed). */
export async function scribble(path: string, offsets: number[], length: number, seed: number): Promise<void> {
  const f = await open(path, 'r+');
  try {
    for (const [i, offset] of offsets.entries()) {
      const old = Buffer.alloc(length);
      await f.read(old, 0, length, offset);
      const fresh = seededBytes(length, seed + i);
      // Make sure the first byte really changes, so a "changed" file always differs.
      if (fresh[0] === old[0]) fresh[0] = fresh[0]! ^ 0xff;
      await f.write(fresh, 0, length, offset);
    }
  } finally {
    await f.close();
  }
}

/** Runs `cmp -n bytes a b` (whole files when bytes is omitted); true when equal. */
export async function cmp(a: string, b: string, bytes?: number): Promise<boolean> {
  const args = bytes !== undefined ? ['-s', '-n', String(bytes), a, b] : ['-s', a, b];
  try {
    await execFileAsync('cmp', args);
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 1) return false;
    throw error;
  }
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

export interface ImagePair {
  source: string;
  destination: string;
}

/**
 * Writes a source image of `size` bytes and a destination of the same size that
 * differs from it: entirely ('all', other seeded content), not at all ('none'), or by
 * `changeLength` scribbled bytes at each of the given offsets.
 */
export async function imagePair(
  folder: string,
  name: string,
  size: number,
  seed: number,
  changes: number[] | 'all' | 'none',
  changeLength = 100,
): Promise<ImagePair> {
  const { join } = await import('node:path');
  const source = join(folder, `${name}.source.img`);
  const destination = join(folder, `${name}.destination.img`);
  const data = seededImage(size, seed);
  await writeFile(source, data);
  if (changes === 'all') {
    await writeImage(destination, size, seed + 7919);
  } else {
    await writeFile(destination, data);
    if (changes !== 'none') {
      await scribble(destination, changes.map((o) => Math.min(o, size - 1)), 1, seed + 1); // at least one byte even at the end
      await scribble(destination, changes.filter((o) => o + changeLength <= size), changeLength, seed + 2);
    }
  }
  return { source, destination };
}

/** PUSH: -l is the source and -r the destination; PULL: the other way round. */
export function devicesFor(action: 'PUSH' | 'PULL', pair: ImagePair): { local: string; remote: string } {
  return action === 'PUSH' ? { local: pair.source, remote: pair.destination } : { local: pair.destination, remote: pair.source };
}
