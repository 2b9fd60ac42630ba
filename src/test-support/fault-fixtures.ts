/**
 * Fixtures for fault tests: images that take a while to send (so a run can be cut
 * while it is going on), progress seen from outside (allocated bytes of a sparse
 * destination), a private sshd that is stopped when the test file ends, and a small
 * tmpfs to fill up.
 */
import { execFile } from 'node:child_process';
import { stat, writeFile, mkdir } from 'node:fs/promises';
import { after, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { seededBytes } from './images.js';
import { sharedSshd, type SshdFixture } from './sshd.js';

const execFileAsync = promisify(execFile);

/**
 * An image that zlib compresses to about 55 % and slowly (16 symbols per byte, no
 * repeat within zlib's window): a COPY at --zlevel 9 takes seconds per 100 MiB, while
 * --zlevel 0 moves it at pipe speed. Each 4 KiB holds its offset, so no two blocks match.
 */
export function compressibleImage(size: number, seed: number): Buffer {
  const unit = 1024 * 1024;
  const random = seededBytes(unit, seed);
  const base = Buffer.allocUnsafe(unit);
  for (let i = 0; i < unit; i++) base[i] = 0x41 + (random[i]! & 15);
  const out = Buffer.allocUnsafe(size);
  for (let at = 0, k = 0; at < size; at += unit, k++) {
    base.copy(out, at, 0, Math.min(unit, size - at));
    for (let j = 0; j + 4 <= unit && at + j + 4 <= size; j += 4096) out.writeUInt32LE(((k + seed) * 2654435761 + j) >>> 0, at + j);
  }
  return out;
}

export async function writeCompressibleImage(path: string, size: number, seed: number): Promise<void> {
  await writeFile(path, compressibleImage(size, seed));
}

/** A sparse file of `size` bytes (reads zeros, allocates nothing). */
export async function sparseImage(path: string, size: number): Promise<void> {
  await writeFile(path, '');
  await execFileAsync('truncate', ['-s', String(size), path]);
}

/** Bytes the file system has allocated for the file: how much of a sparse file was written. */
export async function allocatedBytes(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

let sshdUsed = false;
let stopHookAdded = false;

/**
 * The shared private sshd, or a visible skip when it can't run here (never in CI,
 * where sharedSshd throws). The sshd is stopped when the test file ends, so the test
 * process can exit.
 */
export async function sshdOrSkip(t: TestContext): Promise<SshdFixture | undefined> {
  sshdUsed = true;
  const s = await sharedSshd();
  if (typeof s === 'string') {
    t.skip(`no sshd: ${s}`);
    return undefined;
  }
  return s;
}

/** Call once at the top of a test file that uses sshdOrSkip. */
export function stopSshdAfterFile(): void {
  if (stopHookAdded) return;
  stopHookAdded = true;
  after(async () => {
    if (!sshdUsed) return;
    const s = await sharedSshd();
    if (typeof s !== 'string') await s.stop();
  });
}

/** A skip outside CI; in CI (CI=true) the requirement must be met, so the test fails. */
export function skipOrFail(t: TestContext, why: string): void {
  if (process.env.CI === 'true') throw new Error(`required in CI: ${why}`);
  t.skip(why);
}

export interface SmallTmpfs {
  path: string;
  unmount(): Promise<void>;
}

/** Mounts a tmpfs of `bytes` on a new folder under `parent` (needs root), or says why not. */
export async function mountSmallTmpfs(parent: string, bytes: number): Promise<SmallTmpfs | string> {
  const path = `${parent}/tmpfs`;
  await mkdir(path, { recursive: true });
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path]);
  } catch (error) {
    return `cannot mount a tmpfs: ${(error as Error).message.split('\n')[0]}`;
  }
  return {
    path,
    unmount: async () => {
      await execFileAsync('umount', ['-l', path]).catch(() => undefined);
    },
  };
}
