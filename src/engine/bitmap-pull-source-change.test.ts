/**
 * A PULL with a bitmap hashes the remote source in one pass and reads each differing
 * block again later to send it. If the source block changed in between (a live
 * source, README note 2), the bitmap must record the digest of what was written, not
 * the digest of the scan: otherwise, when the source later returned to the scanned
 * content, every further bitmap run would skip that block and exit 0 with the devices
 * different (a plain SYNC repairs such a block on its next run; a lying bitmap makes
 * it permanent). A PUSH sends the very buffer it hashed.
 *
 * The real agent serves the source over in-memory pipes; its device is wrapped so
 * that the first read of block 3 finds the block changed since it was hashed.
 */
import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { AgentServer } from '../agent/agent-server.js';
import { BitmapFile } from '../bitmap/bitmap-file.js';
import type { Device } from '../device/device.js';
import { LocalDevice, type LocalDeviceOptions } from '../device/local-device.js';
import { RemoteDevice, type AgentLink } from '../device/remote-device.js';
import { hashByName, loadDigest } from '../hash/hash-algorithms.js';
import { blockDigestsOf, entriesOf, parseBitmap } from '../test-support/bitmap-files.js';
import { writeImage } from '../test-support/images.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { bitmapSync } from './bitmap-sync.js';
import { silentLog, silentProgress } from './engine-context.js';

const BLOCK = 64 * 1024;
const SIZE = 8 * BLOCK;

describe('bitmap PULL and a source block that changes between its hash and its read', () => {
  it('records the digest of what the destination holds', async () => {
    const dir = await makeTempDir('basyn-bitmap-pull-change-');
    try {
      const src = join(dir.path, 'source.img');
      const dst = join(dir.path, 'destination.img');
      await writeImage(src, SIZE, 91);
      await writeImage(dst, SIZE, 92);
      const hash = hashByName('SHA1')!;
      const digest = await loadDigest(hash);

      // The agent's device: the first read of block 3 (the read that sends it, after the
      // digest scan) finds it changed by "another process".
      let changed = false;
      const openDevice = async (path: string, options: LocalDeviceOptions): Promise<Device> => {
        const device = await LocalDevice.open(path, options);
        const read = device.read.bind(device);
        device.read = async (offset: number, length: number): Promise<Buffer> => {
          if (offset === 3 * BLOCK && !changed) {
            changed = true;
            const f = await open(path, 'r+');
            await f.write(Buffer.alloc(BLOCK, 0x5a), 0, BLOCK, offset);
            await f.close();
          }
          return read(offset, length);
        };
        return device;
      };
      const toAgent = new PassThrough();
      const fromAgent = new PassThrough();
      const server = new AgentServer(toAgent, fromAgent, { software: 'in-memory agent', openDevice });
      const link: AgentLink = {
        input: fromAgent, output: toAgent, where: 'memory',
        explainLoss: async () => 'the in-memory agent stopped', close: async () => undefined,
      };
      const source = await RemoteDevice.connect(link, { path: src, writable: false, hash, compress: { compress: 'zlib', level: 1 }, blockSize: BLOCK });
      const destination = await LocalDevice.open(dst, { writable: true, hash, digest });
      const bitmapPath = join(dir.path, 'image.bitmap');
      const bitmap = await BitmapFile.open(bitmapPath, { deviceSize: SIZE, blockSize: BLOCK, hash }, { reset: false });
      try {
        await bitmapSync(source, destination, bitmap, {
          size: SIZE, blockSize: BLOCK, digest, signal: new AbortController().signal, progress: silentProgress, log: silentLog,
        }, 'bitmap');
      } finally {
        await bitmap.close();
        await destination.close();
        await source.close();
        await server.done;
      }
      assert.equal(changed, true, 'the source block was changed between its hash and its read');

      // The invariant: each known entry is the digest of what the destination holds.
      const entries = entriesOf((await parseBitmap(bitmapPath)).body, 20);
      const held = blockDigestsOf(await readFile(dst), BLOCK);
      for (let i = 0; i < entries.length; i++) {
        if (entries[i]!.equals(Buffer.alloc(20))) continue;
        assert.ok(entries[i]!.equals(held[i]!), `entry ${i} is ${entries[i]!.toString('hex')}, the destination holds ${held[i]!.toString('hex')}`);
      }
    } finally {
      await dir.remove();
    }
  });
});
