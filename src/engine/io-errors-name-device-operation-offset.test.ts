/**
 * EIO (and ENOSPC) on either device, through the real engine, protocol and agent:
 * the agent's device is wrapped (AgentServer's openDevice hook) to fail at a chosen
 * offset. The run must fail, not hang, with a DeviceError that names the device, the
 * operation and the offset, as one line, exit code 2.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exitCodeOf, errorLine } from '../cli/exit-codes.js';
import type { Device } from '../device/device.js';
import { LocalDevice } from '../device/local-device.js';
import { DeviceError } from '../errors.js';
import { hashByName, loadDigest, type DigestFunction } from '../hash/hash-algorithms.js';
import { quoteName } from '../report/quote.js';
import { FaultDevice, type Faults } from '../test-support/fault-device.js';
import { writeImage } from '../test-support/images.js';
import { connectThroughAgent } from '../test-support/in-memory-agent.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { copyDevices } from './copy.js';
import { silentLog, silentProgress, type EngineContext } from './engine-context.js';
import { syncDevices } from './sync.js';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;
const BLOCK = MiB;
const hash = hashByName('SHA1')!;
let digest: DigestFunction;
let dir: { path: string; remove(): Promise<void> };

before(async () => {
  digest = await loadDigest(hash);
  dir = await makeTempDir('basyn-eio-');
});
after(async () => dir.remove());

interface Case {
  name: string;
  mode: 'SYNC' | 'COPY';
  /** Which device the agent serves. */
  remote: 'source' | 'destination';
  /** Faults of the agent's device. */
  remoteFaults?: Faults;
  /** Faults of the device on this side. */
  localFaults?: Faults;
  chunk?: number;
  side: 'local' | 'remote';
  operation: string;
  offset?: number;
  code?: string;
}

const CASES: Case[] = [
  { name: 'remote destination write EIO during SYNC', mode: 'SYNC', remote: 'destination', remoteFaults: { writeAt: 5 * MiB + 12345 }, side: 'remote', operation: 'write', offset: 5 * MiB + 12345 },
  { name: 'remote destination write EIO during COPY', mode: 'COPY', remote: 'destination', remoteFaults: { writeAt: 3 * MiB }, side: 'remote', operation: 'write', offset: 3 * MiB },
  { name: 'remote destination write ENOSPC during COPY', mode: 'COPY', remote: 'destination', remoteFaults: { writeAt: 7 * MiB + 1, code: 'ENOSPC' }, side: 'remote', operation: 'write', offset: 7 * MiB + 1, code: 'ENOSPC' },
  { name: 'remote destination read EIO (digest stream) during SYNC', mode: 'SYNC', remote: 'destination', remoteFaults: { readAt: 2 * MiB + 1 }, side: 'remote', operation: 'read', offset: 2 * MiB + 1 },
  { name: 'remote destination fsync EIO at the end of SYNC', mode: 'SYNC', remote: 'destination', remoteFaults: { flush: true }, side: 'remote', operation: 'flush' },
  { name: 'remote destination fsync EIO at the end of COPY', mode: 'COPY', remote: 'destination', remoteFaults: { flush: true }, side: 'remote', operation: 'flush' },
  { name: 'remote source read EIO (digest stream) during SYNC', mode: 'SYNC', remote: 'source', remoteFaults: { readAt: 6 * MiB + 7 }, side: 'remote', operation: 'read', offset: 6 * MiB + 7 },
  { name: 'remote source read EIO (block stream) during COPY', mode: 'COPY', remote: 'source', remoteFaults: { readAt: 4 * MiB }, side: 'remote', operation: 'read', offset: 4 * MiB },
  { name: 'remote source READ EIO of a differing chunk (SYNC --chunk)', mode: 'SYNC', remote: 'source', chunk: 256 * 1024, remoteFaults: { rangeReadAt: 1 * MiB + 300 * 1024 }, side: 'remote', operation: 'read', offset: 1 * MiB + 300 * 1024 },
  { name: 'remote destination CHUNK_DIGESTS EIO (SYNC --chunk)', mode: 'SYNC', remote: 'destination', chunk: 256 * 1024, remoteFaults: { rangeReadAt: 2 * MiB + 5 }, side: 'remote', operation: 'read', offset: 2 * MiB + 5 },
  { name: 'local source read EIO during SYNC to a remote destination', mode: 'SYNC', remote: 'destination', localFaults: { readAt: 3 * MiB + 99 }, side: 'local', operation: 'read', offset: 3 * MiB + 99 },
  { name: 'local destination write EIO during COPY from a remote source', mode: 'COPY', remote: 'source', localFaults: { writeAt: 6 * MiB }, side: 'local', operation: 'write', offset: 6 * MiB },
];

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms))),
  ]);
}

for (const [i, c] of CASES.entries()) {
  test(`${c.name}: DeviceError naming the ${c.side} device, ${c.operation}${c.offset !== undefined ? ' and the offset' : ''}`, async (t) => {
    const localPath = join(dir.path, `local-${i}.img`);
    const remotePath = join(dir.path, `remote ${i} (agent's).img`);
    await writeImage(localPath, SIZE, 100 + i);
    await writeImage(remotePath, SIZE, 200 + i);
    const local: Device = await LocalDevice.open(localPath, { writable: c.remote === 'source', hash, digest });
    const localDevice = c.localFaults !== undefined ? new FaultDevice(local, c.localFaults) : local;
    const { device: remote, server } = await connectThroughAgent(
      { path: remotePath, writable: c.remote === 'destination', hash, compress: { compress: 'zlib', level: 1 }, blockSize: BLOCK },
      (d) => (c.remoteFaults !== undefined ? new FaultDevice(d, c.remoteFaults) : d),
    );
    const [source, destination] = c.remote === 'destination' ? [localDevice, remote] : [remote, localDevice];
    const ctx: EngineContext = {
      size: SIZE, blockSize: BLOCK, chunkSize: c.chunk, digest, signal: new AbortController().signal,
      progress: silentProgress, log: silentLog,
    };
    const run = c.mode === 'SYNC' ? syncDevices(source, destination, ctx) : copyDevices(source, destination, ctx);
    const error = await withTimeout(run.then(() => undefined, (e: unknown) => e), 15_000, 'the run');
    await withTimeout(Promise.allSettled([localDevice.close(), remote.close()]), 10_000, 'closing both devices');
    await withTimeout(server.done, 10_000, 'the agent');

    assert.ok(error instanceof DeviceError, `expected a DeviceError, got ${String(error)}`);
    const path = c.side === 'remote' ? remotePath : localPath;
    assert.equal(error.context.side, c.side);
    assert.equal(error.context.device, path);
    assert.equal(error.context.operation, c.operation);
    assert.equal(error.context.offset, c.offset);
    const line = errorLine(error);
    t.diagnostic(line);
    assert.doesNotMatch(line, /\n/);
    assert.ok(line.includes(`${c.side} device ${quoteName(path)}`), line);
    assert.match(line, new RegExp(c.operation === 'flush' ? 'fsync|flush' : c.operation));
    if (c.offset !== undefined) assert.ok(line.includes(`offset ${c.offset}`), line);
    assert.ok(line.includes(c.code ?? 'EIO'), line);
    assert.equal(exitCodeOf(error), 2);
  });
}
