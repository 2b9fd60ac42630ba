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
    for (let j = 0; j < n; j += 4096) out.writeUInt32LE((k * 2654435761 + j) >>> 0, at + j);
  }
  return out;
}

export async function writeImage(path: string, length: number, seed: number): Promise<void> {
  await writeFile(path, seededImage(length, seed));
}

/** Overwrites `length` bytes at each offset with new seeded bytes. */
export async function scribble(path: string, offsets: number[], length: number, seed: number): Promise<void> {
  const f = await open(path, 'r+');
  try {
    for (const [i, offset] of offsets.entries()) await f.write(seededBytes(length, seed + i), 0, length, offset);
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
