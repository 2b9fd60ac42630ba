/**
 * Helpers for the bitmap tests, written independently of src/bitmap so the tests
 * check the file against the original tool's layout, not against basyn's own
 * encoder: little-endian u64 magic, u64 device size, u64 block size, u8 hash id,
 * then one digest per block (the last block may be short).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';

export const ORIGINAL_MAGIC = 239840023593485091n;
export const HEADER_BYTES = 25;

/** The original tool's hash ids and node:crypto names, with digest lengths. */
export const ORIGINAL_HASHES = [
  { name: 'SHA1', id: 0, node: 'sha1', length: 20 },
  { name: 'SHA224', id: 1, node: 'sha224', length: 28 },
  { name: 'SHA256', id: 2, node: 'sha256', length: 32 },
  { name: 'SHA384', id: 3, node: 'sha384', length: 48 },
  { name: 'SHA512', id: 4, node: 'sha512', length: 64 },
  { name: 'BLAKE2B', id: 5, node: 'blake2b512', length: 64 },
  { name: 'BLAKE2S', id: 6, node: 'blake2s256', length: 32 },
  { name: 'MD5', id: 7, node: 'md5', length: 16 },
] as const;

export interface ParsedBitmap {
  magic: bigint;
  deviceSize: number;
  blockSize: number;
  hashId: number;
  /** The bytes after the header (all entries back to back). */
  body: Buffer;
  fileSize: number;
}

export async function parseBitmap(path: string): Promise<ParsedBitmap> {
  const raw = await readFile(path);
  if (raw.length < HEADER_BYTES) throw new Error(`${path}: ${raw.length} bytes, shorter than a header`);
  return {
    magic: raw.readBigUInt64LE(0),
    deviceSize: Number(raw.readBigUInt64LE(8)),
    blockSize: Number(raw.readBigUInt64LE(16)),
    hashId: raw.readUInt8(24),
    body: raw.subarray(HEADER_BYTES),
    fileSize: raw.length,
  };
}

/** Entries of a bitmap body cut into digests. */
export function entriesOf(body: Buffer, digestLength: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += digestLength) out.push(body.subarray(at, at + digestLength));
  return out;
}

/** Digests of consecutive blocks of `data` (the last may be short), as node:crypto computes them. */
export function blockDigestsOf(data: Buffer, blockSize: number, nodeHash = 'sha1'): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += blockSize) {
    out.push(createHash(nodeHash).update(data.subarray(at, Math.min(at + blockSize, data.length))).digest());
  }
  return out;
}

export async function blockDigestsOfFile(path: string, blockSize: number, nodeHash = 'sha1'): Promise<Buffer[]> {
  return blockDigestsOf(await readFile(path), blockSize, nodeHash);
}

/** A bitmap file in the original layout, built by hand. */
export function encodeOriginalBitmap(deviceSize: number, blockSize: number, hashId: number, digests: Buffer[]): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeBigUInt64LE(ORIGINAL_MAGIC, 0);
  header.writeBigUInt64LE(BigInt(deviceSize), 8);
  header.writeBigUInt64LE(BigInt(blockSize), 16);
  header.writeUInt8(hashId, 24);
  return Buffer.concat([header, ...digests]);
}

export interface DebugIo {
  local: { read: number; wrote: number };
  remote: { read: number; wrote: number };
}

/** The two "debug: ... device read N bytes, wrote M bytes" lines of a --debug run. */
export function parseDebugIo(stderr: string): DebugIo {
  const side = (name: string): { read: number; wrote: number } => {
    const m = new RegExp(`debug: ${name} device read (\\d+) bytes, wrote (\\d+) bytes`).exec(stderr);
    if (m === null) throw new Error(`no "${name} device read" debug line in:\n${stderr.slice(-2000)}`);
    return { read: Number(m[1]), wrote: Number(m[2]) };
  };
  return { local: side('local'), remote: side('remote') };
}

/** The lines of stderr that are not --debug/--verbose chatter. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '');
}

/** Pids of processes (other than `except`) that hold `file` open, from /proc. */
export function pidsWithFileOpen(file: string, except: number[] = []): number[] {
  const target = resolve(file);
  const found: number[] = [];
  let procs: string[];
  try {
    procs = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const p of procs) {
    if (!/^\d+$/.test(p)) continue;
    const pid = Number(p);
    if (except.includes(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${p}/fd/${fd}`) === target) {
          found.push(pid);
          break;
        }
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return found;
}

/** Waits until no process but the caller holds `file` open (an orphaned agent finishing its writes). */
export async function waitUntilClosedByAll(file: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const holders = pidsWithFileOpen(file, [process.pid]);
    if (holders.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${file} is still open by pid ${holders.join(', ')} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Child pids of `pid`, from /proc/N/stat (empty when it has none or is gone). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let procs: string[];
  try {
    procs = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const p of procs) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
