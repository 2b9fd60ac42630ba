/**
 * The WASM zstd on threads of its own (zstd-pool.ts): blocks round-trip through it,
 * many more than it has threads, their bytes intact; a corrupt frame is an error of
 * its job alone; an idle pool never keeps a process alive; a closed pool refuses work.
 * Then the whole command with BASYN_ZSTD=wasm (the WASM build on any node): SIGINT in
 * the middle of a COPY through a local agent stops it as it stops any run, and a cut
 * connection (the agent killed) ends the run with exit 2 and one line, not a hang.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { compressibleImage, sparseImage, writeCompressibleImage } from '../test-support/fault-fixtures.js';
import { seededBytes } from '../test-support/images.js';
import { allocatedNow, childPids, describeFinished, isAlive, spawnStoppedEarly, waitUntil } from '../test-support/process-tree.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { ZstdEngineError, ZstdPool } from './zstd-pool.js';
import { loadWasmZstd } from './zstd-wasm.js';

const MiB = 1024 * 1024;

test('the pool compresses many more blocks than it has threads, each back intact, and decompresses them', async () => {
  const pool = new ZstdPool(2);
  try {
    const blocks = Array.from({ length: 9 }, (_, i) => compressibleImage(i === 0 ? 1 : (i * 517 * 1024) % (4 * MiB) + 1, i));
    const frames = await Promise.all(blocks.map(async (b, i) => await pool.compress(b, [1, 3, 19][i % 3]!)));
    const wasm = await loadWasmZstd();
    // A block that does not shrink (one byte) comes back as a copy of itself, marked raw.
    assert.equal(frames[0]!.raw, true);
    assert.ok(frames[0]!.frame.equals(blocks[0]!) && frames[0]!.frame.buffer !== blocks[0]!.buffer);
    for (const [i, { frame, raw }] of frames.entries()) {
      if (i === 0) continue;
      assert.ok(raw !== true && frame.length < blocks[i]!.length, `block ${i}: ${frame.length} bytes from ${blocks[i]!.length}`);
      // Decoded by the other path too: frames of the pool are plain zstd frames.
      assert.ok(wasm.decompress(frame, blocks[i]!.length).equals(blocks[i]!), `block ${i} (on this thread)`);
      assert.ok((await pool.decompress(frame, blocks[i]!.length)).equals(blocks[i]!), `block ${i} (on the pool)`);
    }
    // The caller's block is copied, not transferred: it stays usable.
    assert.equal(blocks[5]!.length, (5 * 517 * 1024) % (4 * MiB) + 1);
  } finally {
    await pool.close();
  }
});

test('frames come back in reused memory: the memory of a released frame holds later ones, a held frame is never overwritten', async () => {
  const pool = new ZstdPool(1);
  try {
    const wasm = await loadWasmZstd();
    const held = compressibleImage(MiB, 1);
    const kept = await pool.compress(held, 1);
    const memory = new Set<ArrayBufferLike>();
    for (let i = 0; i < 24; i++) {
      const block = compressibleImage(MiB, 10 + i);
      const f = await pool.compress(block, 1);
      assert.ok(wasm.decompress(f.frame, MiB).equals(block), `block ${i}`);
      memory.add(f.frame.buffer);
      f.release();
      f.release(); // twice is harmless
    }
    // 24 frames of a MiB or so, released as they go, in a slab or two, not one buffer each.
    assert.ok(memory.size <= 2, `${memory.size} buffers for 24 frames released in turn`);
    assert.ok(wasm.decompress(kept.frame, MiB).equals(held), 'a held frame is never reused');
    kept.release();
  } finally {
    await pool.close();
  }
});

test('a corrupt frame fails its own job only; the pool goes on', async () => {
  const pool = new ZstdPool(1);
  try {
    const good = compressibleImage(256 * 1024, 3);
    const { frame } = await pool.compress(good, 1);
    const corrupt = Buffer.from(frame);
    corrupt.fill(0xff, 16);
    const [bad, still] = await Promise.allSettled([pool.decompress(corrupt, good.length), pool.decompress(frame, good.length)]);
    assert.equal(bad.status, 'rejected');
    assert.ok((bad as PromiseRejectedResult).reason instanceof ZstdEngineError, String((bad as PromiseRejectedResult).reason));
    assert.equal(still.status, 'fulfilled');
    assert.ok((still as PromiseFulfilledResult<Buffer>).value.equals(good));
    // Bounded: a frame larger than its capacity is refused, not grown into.
    await assert.rejects(pool.decompress(frame, good.length - 1), ZstdEngineError);
  } finally {
    await pool.close();
  }
});

test('a closed pool refuses work', async () => {
  const pool = new ZstdPool(1);
  await pool.close();
  await assert.rejects(pool.compress(seededBytes(1024, 1), 1), /closed/);
});

test('closing the pool settles the jobs it holds: queued and running ones are rejected, none is left waiting', async () => {
  const pool = new ZstdPool(1);
  const jobs = Array.from({ length: 4 }, (_, i) => pool.compress(compressibleImage(4 * MiB, i), 19).then(() => 'done', (e: Error) => e.message));
  await pool.close();
  const outcomes = await Promise.race([Promise.all(jobs), new Promise<string>((r) => setTimeout(() => r('still waiting after 10 s'), 10_000))]);
  assert.ok(Array.isArray(outcomes), String(outcomes));
  assert.ok(outcomes.some((o) => /closed/.test(o)), outcomes.join(', '));
});

test('a process whose pool has done its work exits by itself (idle threads hold nothing open)', async () => {
  const zstd = new URL('./zstd.js', import.meta.url).href;
  const script = `import(${JSON.stringify(zstd)}).then(async (z) => { const { frame: f } = await z.zstdCompressLent(Buffer.alloc(1 << 20, 97), 1); console.log(z.zstdKind, f.length); })`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, BASYN_ZSTD: 'wasm' }, timeout: 30_000 });
  assert.match(stdout, /^wasm \d+\n$/);
});

let dir: { path: string; remove(): Promise<void> };
let source: string;
const SIZE = 64 * MiB;
// The WASM build on any node, so the pool is what compresses.
const env = { ...process.env, BASYN_ZSTD: 'wasm' };

before(async () => {
  dir = await makeTempDir('basyn-zstd-threads-');
  source = join(dir.path, 'source.img');
  await writeCompressibleImage(source, SIZE, 23);
});
after(async () => dir.remove());

async function startStopped(name: string, extra: string[]) {
  const to = join(dir.path, `${name}.img`);
  const args = ['-l', source, '-r', to, '-a', 'PUSH', '-m', 'COPY', '--zlevel', '1', ...extra, ...LOCAL_AGENT.args];
  const { run } = await spawnStoppedEarly(args, { env, prepare: () => sparseImage(to, SIZE), progress: () => allocatedNow(to), latest: SIZE / 2 });
  const agents = childPids(run.pid);
  assert.equal(agents.length, 1, `one agent child of basyn, found ${agents.length}`);
  return { run, agents, to };
}

test('SIGINT during a COPY whose blocks compress on the zstd threads: exit 2 within seconds, says interrupted, the agent ends', async () => {
  const { run, agents, to } = await startStopped('sigint', ['--compress=zstd']);
  const sentAt = Date.now();
  process.kill(run.pid, 'SIGINT');
  process.kill(run.pid, 'SIGCONT');
  const r = await run.timeExit(sentAt);
  assert.equal(r.code, 2, describeFinished(r));
  assert.ok(r.ms < 15_000, `stopped ${r.ms} ms after SIGINT`);
  assert.match(r.stderr, /^basyn: interrupted by SIGINT during COPY/m);
  assert.doesNotMatch(r.stderr, /^ {4}at /m);
  await waitUntil(() => agents.every((p) => !isAlive(p)), 6000, 'the agent to exit after basyn');
  await rm(to, { force: true });
});

test('a cut connection (the agent killed) during a COPY on the zstd threads: exit 2 with one line, no hang', async () => {
  const { run, agents, to } = await startStopped('cut', ['--compress=zstd']);
  process.kill(agents[0]!, 'SIGKILL');
  const sentAt = Date.now();
  process.kill(run.pid, 'SIGCONT');
  const r = await run.timeExit(sentAt);
  assert.equal(r.code, 2, describeFinished(r));
  assert.ok(r.ms < 15_000, `ended ${r.ms} ms after the agent was killed`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, JSON.stringify(r.stderr));
  assert.match(lines[0]!, /^basyn: /);
  await rm(to, { force: true });
});

