/**
 * The real agent and the real protocol client, joined by in-memory pipes instead of
 * ssh: SYNC, SYNC with chunks, COPY and RECHECK in both directions on temp files, and
 * an agent that refuses ranges outside its device and hostile frames.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { ProtocolError } from '../errors.js';
import { LocalDevice } from '../device/local-device.js';
import { RemoteDevice, type AgentLink } from '../device/remote-device.js';
import { copyDevices } from '../engine/copy.js';
import { silentLog, silentProgress, type EngineContext } from '../engine/engine-context.js';
import { recheckDevices } from '../engine/recheck.js';
import { syncDevices } from '../engine/sync.js';
import { hashByName, loadDigest } from '../hash/hash-algorithms.js';
import { cmp, imagePair, sha256File } from '../test-support/images.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { AgentServer } from './agent-server.js';

const BLOCK = 64 * 1024;
const SIZE = 40 * BLOCK + 1234;
const CHANGES = [0, 5 * BLOCK + 17, 6 * BLOCK - 1, 20 * BLOCK + 40_000, SIZE - 1];

const dir = tempDirForFile();
let n = 0;

/** An agent on one end of two PassThrough pipes, and the link the client sees. */
function memoryAgent(): { server: AgentServer; link: AgentLink; toAgent: PassThrough } {
  const toAgent = new PassThrough();
  const fromAgent = new PassThrough();
  const server = new AgentServer(toAgent, fromAgent, { software: 'in-memory agent' });
  const link: AgentLink = {
    input: fromAgent,
    output: toAgent,
    where: 'memory',
    explainLoss: async () => 'the in-memory agent stopped',
    close: async () => undefined,
  };
  return { server, link, toAgent };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))),
  ]);
}

async function session(hashName: string, remotePath: string, remoteWritable: boolean, localPath: string, localWritable: boolean) {
  const hash = hashByName(hashName)!;
  const digest = await loadDigest(hash);
  const { server, link } = memoryAgent();
  const remote = await RemoteDevice.connect(link, { path: remotePath, writable: remoteWritable, hash, compress: { compress: 'zlib', level: 6 }, blockSize: BLOCK });
  const local = await LocalDevice.open(localPath, { writable: localWritable, hash, digest });
  const ctx = (chunkSize?: number): EngineContext => ({
    size: Math.min(local.size, remote.size), blockSize: BLOCK, chunkSize, digest,
    signal: new AbortController().signal, progress: silentProgress, log: silentLog,
  });
  const end = async (): Promise<number> => {
    await local.close();
    await remote.close();
    return within(server.done, 5000, 'the agent ending after BYE');
  };
  return { server, remote, local, ctx, end };
}

describe('agent and client over in-memory pipes', () => {
  for (const hashName of ['SHA1', 'BLAKE2B']) {
    test(`PUSH SYNC (${hashName}) makes the agent's file equal and moves only the differing blocks`, async () => {
      const p = await imagePair(dir.path, `push${++n}`, SIZE, n, CHANGES);
      const s = await session(hashName, p.destination, true, p.source, false);
      assert.equal(s.remote.size, SIZE);
      const counters = await syncDevices(s.local, s.remote, s.ctx());
      assert.equal(counters.blocksCompared, 41);
      // Blocks 0, 5, 20 and 40, and 6 (the 100 bytes written at 6*BLOCK-1 spill into it).
      assert.equal(counters.blocksDiffering, 5);
      assert.ok(s.remote.traffic.tx > 4 * BLOCK && s.remote.traffic.tx < 6 * BLOCK, `Tx ${s.remote.traffic.tx}`);
      assert.equal(await s.end(), 0);
      assert.ok(await cmp(p.source, p.destination));
    });
  }

  test('PULL SYNC with chunks moves only the differing chunks', async () => {
    const p = await imagePair(dir.path, `pull${++n}`, SIZE, n, CHANGES);
    const s = await session('SHA256', p.source, false, p.destination, true);
    const counters = await syncDevices(s.remote, s.local, s.ctx(4096));
    assert.ok(counters.chunksDiffering >= 5 && counters.chunksDiffering <= 8, `chunks ${counters.chunksDiffering}`);
    assert.ok(s.remote.traffic.rx < 2 * BLOCK, `Rx ${s.remote.traffic.rx}`);
    assert.equal(await s.end(), 0);
    assert.ok(await cmp(p.source, p.destination));
  });

  test('PUSH COPY and PULL COPY', async () => {
    const p = await imagePair(dir.path, `copy${++n}`, SIZE, n, 'all');
    const s = await session('MD5', p.destination, true, p.source, false);
    await copyDevices(s.local, s.remote, s.ctx());
    assert.equal(await s.end(), 0);
    assert.ok(await cmp(p.source, p.destination));

    const q = await imagePair(dir.path, `copy${++n}`, SIZE, n, 'all');
    const t = await session('MD5', q.source, false, q.destination, true);
    await copyDevices(t.remote, t.local, t.ctx());
    assert.equal(await t.end(), 0);
    assert.ok(await cmp(q.source, q.destination));
  });

  test('RECHECK finds the first differing block and writes nothing', async () => {
    const p = await imagePair(dir.path, `recheck${++n}`, SIZE, n, [7 * BLOCK + 3, 30 * BLOCK]);
    const [hs, hd] = [await sha256File(p.source), await sha256File(p.destination)];
    const s = await session('SHA1', p.destination, false, p.source, false);
    const r = await recheckDevices(s.local, s.remote, s.ctx());
    assert.deepEqual(r, { blocksCompared: 41, blocksDiffering: 2, firstDifference: 7 * BLOCK });
    assert.equal(await s.end(), 0);
    assert.equal(await sha256File(p.source), hs);
    assert.equal(await sha256File(p.destination), hd);
  });

  test('the agent refuses a read past the end of its device', async () => {
    const p = await imagePair(dir.path, `range${++n}`, SIZE, n, 'none');
    const s = await session('SHA1', p.destination, false, p.source, false);
    await assert.rejects(s.remote.read(SIZE - 10, 20), (e: unknown) => e instanceof ProtocolError && /outside/.test(e.message));
    assert.equal(await within(s.server.done, 5000, 'the agent stopping'), 1);
    await s.local.close();
    await s.remote.close();
  });

  test('the agent refuses a write past the end of its device, and the file is unchanged', async () => {
    const p = await imagePair(dir.path, `wrange${++n}`, SIZE, n, 'none');
    const before = await sha256File(p.destination);
    const s = await session('SHA1', p.destination, true, p.source, false);
    await s.remote.write(SIZE - 100, Buffer.alloc(200, 0x55)).catch(() => undefined);
    await assert.rejects(s.remote.flush(), ProtocolError);
    assert.equal(await within(s.server.done, 5000, 'the agent stopping'), 1);
    await s.local.close();
    await s.remote.close();
    assert.equal((await stat(p.destination)).size, SIZE);
    assert.equal(await sha256File(p.destination), before);
  });

  test('the agent ends the session on a hostile frame length without allocating it', async () => {
    const { server, toAgent } = memoryAgent();
    toAgent.write(Buffer.from([0xff, 0xff, 0xff, 0xf0]));
    assert.notEqual(await within(server.done, 5000, 'the agent stopping'), 0);
  });

  test('the agent ends the session when the client speaks before HELLO', async () => {
    const { server, toAgent } = memoryAgent();
    toAgent.write(Buffer.from([0, 0, 0, 1, 0x1f])); // BYE before HELLO
    assert.notEqual(await within(server.done, 5000, 'the agent stopping'), 0);
  });

  test('the agent opens read-only when asked and refuses writes', async () => {
    const p = await imagePair(dir.path, `ro${++n}`, SIZE, n, 'none');
    const before = await readFile(p.destination);
    const s = await session('SHA1', p.destination, false, p.source, false);
    await s.remote.write(0, Buffer.alloc(10, 1)).catch(() => undefined);
    await assert.rejects(s.remote.flush());
    await s.local.close();
    await s.remote.close();
    assert.ok((await readFile(p.destination)).equals(before));
  });
});
