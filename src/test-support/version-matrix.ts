/**
 * The slice of end-to-end runs the version matrix repeats for each pair of nodes
 * (the command's, the agent's): the paths whose code differs from one node to the
 * next, on small images so the matrix stays cheap. Each run is checked with cmp.
 *
 * - PUSH SYNC, SHA1: the agent hashes the destination with node:crypto and inflates
 *   the zlib blocks it receives; zero blocks travel as markers.
 * - PUSH COPY --create onto a missing remote file: the agent creates and extends it
 *   (fs open 'wx', truncate), and skips writing zeros where the file reads zeros.
 * - PULL SYNC with a bitmap, BLAKE3, twice, the second with --recheck: the agent
 *   hashes the whole source on worker threads with the WebAssembly hash, deflates the
 *   blocks it sends, and streams digests again for the recheck.
 * - --debug names the node on each end (the agent's from its HELLO), and the agent
 *   writes nothing on stderr (a node that rejected a V8 flag would).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cmp, scribble, seededBytes } from './images.js';
import { describeRun, runBasyn, type BasynRun } from './run-basyn.js';

export const BLOCK_KIB = 64;
const BLOCK = BLOCK_KIB * 1024;
/** 40 blocks and an odd tail. */
export const SLICE_SIZE = 40 * BLOCK + 4097;

/** Random, zero and compressible blocks in turn, so every block encoding travels. */
export function mixedImage(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  const text = Buffer.from(`basyn version matrix ${seed} `.repeat(Math.ceil(BLOCK / 24)));
  for (let at = 0, k = 0; at < size; at += BLOCK, k++) {
    const n = Math.min(BLOCK, size - at);
    if (k % 3 === 0) seededBytes(n, seed * 1000 + k).copy(out, at);
    else if (k % 3 === 1) text.copy(out, at, 0, n);
    // k % 3 === 2: zeros
  }
  return out;
}

export interface MatrixEnds {
  /** The options that put the remote side somewhere (-h/-p over ssh, or nothing) plus --remote-node. */
  hostArgs: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** The node that runs the command. */
  commandNode: { path: string; version: string };
  /** The node that runs the agent (its version, as `node --version` prints it). */
  agentVersion: string;
}

let counter = 0;

export async function runMatrixSlice(folder: string, ends: MatrixEnds): Promise<void> {
  const n = ++counter;
  const run = async (args: string[]): Promise<BasynRun> => {
    const r = await runBasyn([...args, ...ends.hostArgs, '--buffer', String(BLOCK_KIB)], { env: ends.env, node: ends.commandNode.path });
    assert.equal(r.code, 0, `basyn ${args.join(' ')}: ${describeRun(r)}`);
    return r;
  };
  const source = join(folder, `m${n}.source.img`);
  const destination = join(folder, `m${n}.destination.img`);
  await writeFile(source, mixedImage(SLICE_SIZE, n));
  await writeFile(destination, mixedImage(SLICE_SIZE, n + 100));

  const push = await run(['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'SYNC', '--debug']);
  assert.ok(await cmp(source, destination), 'PUSH SYNC: cmp differs');
  assert.match(push.stderr, new RegExp(`this end runs basyn \\S+ on node ${ends.commandNode.version.replaceAll('.', '\\.')}\\n`));
  assert.match(push.stderr, new RegExp(`the agent.* runs basyn-agent \\S+ node ${ends.agentVersion.replaceAll('.', '\\.')}\\n`));
  const agentSaid = push.stderr.split('\n').filter((l) => l.startsWith('remote: ') && !/Permanently added/.test(l));
  assert.deepEqual(agentSaid, [], 'the agent wrote nothing on stderr');

  const created = join(folder, `m${n}.created.img`);
  await run(['-l', source, '-r', created, '-a', 'PUSH', '-m', 'COPY', '--create']);
  assert.ok(await cmp(source, created), 'PUSH COPY --create: cmp differs');

  // BLAKE3 hashes on the agent's worker threads: WebAssembly inside a worker.
  const pulled = join(folder, `m${n}.pulled.img`);
  await writeFile(pulled, mixedImage(SLICE_SIZE, n + 200));
  const bitmap = join(folder, `m${n}.pull.bitmap`);
  await run(['-l', pulled, '-r', source, '-a', 'PULL', '-m', 'SYNC', '-b', bitmap, '--hash', 'BLAKE3']);
  assert.ok(await cmp(source, pulled), 'first bitmap PULL: cmp differs');
  await scribble(source, [0, 7 * BLOCK + 5, SLICE_SIZE - 10], 10, n);
  await run(['-l', pulled, '-r', source, '-a', 'PULL', '-m', 'SYNC', '-b', bitmap, '--hash', 'BLAKE3', '--recheck']);
  assert.ok(await cmp(source, pulled), 'second bitmap PULL: cmp differs');
}
