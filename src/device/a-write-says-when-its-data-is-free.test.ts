/**
 * LocalDevice.write's `written` callback: write() may resolve with the write only
 * queued, so a caller that reuses the memory (the agent's WRITE frames) waits for
 * `written`, which must come only once the file holds the data, and exactly once
 * whatever becomes of the write.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashByName, loadDigest } from '../hash/hash-algorithms.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { LocalDevice } from './local-device.js';

const BLOCK = 1024 * 1024;

async function device(path: string): Promise<LocalDevice> {
  const hash = hashByName('SHA1')!;
  return LocalDevice.open(path, { writable: true, hash, digest: await loadDigest(hash) });
}

test('written comes once per write, after the file holds that write, for many writes in flight', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'dst.img');
    await writeFile(path, Buffer.alloc(16 * BLOCK, 0xee));
    const d = await device(path);
    const calls = new Map<number, number>();
    const checks: Promise<void>[] = [];
    for (let i = 0; i < 16; i++) {
      const data = Buffer.alloc(BLOCK, i + 1);
      await d.write(i * BLOCK, data, {
        written: () => {
          calls.set(i, (calls.get(i) ?? 0) + 1);
          checks.push(readFile(path).then((now) => assert.ok(now.subarray(i * BLOCK, (i + 1) * BLOCK).equals(Buffer.alloc(BLOCK, i + 1)), `block ${i} on file when written() came`)));
          data.fill(0x55); // the caller reuses the memory now: the file must not change
        },
      });
    }
    await d.flush();
    await Promise.all(checks);
    assert.deepEqual([...calls.values()], Array(16).fill(1));
    await d.close();
    const file = await readFile(path);
    for (let i = 0; i < 16; i++) assert.ok(file.subarray(i * BLOCK, (i + 1) * BLOCK).equals(Buffer.alloc(BLOCK, i + 1)), `block ${i}`);
  } finally {
    await dir.remove();
  }
});

test('written comes for a zero block that needs no write, too', async () => {
  const dir = await makeTempDir();
  try {
    const path = join(dir.path, 'dst.img');
    await writeFile(path, Buffer.alloc(4 * BLOCK));
    const d = await device(path);
    let calls = 0;
    await d.write(BLOCK, Buffer.alloc(BLOCK), { written: () => calls++ });
    await d.flush();
    assert.equal(calls, 1);
    await d.close();
  } finally {
    await dir.remove();
  }
});
