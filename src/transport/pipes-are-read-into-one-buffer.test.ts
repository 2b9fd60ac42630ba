/**
 * The agent's stdout (read by the command) and the agent's stdin (read by the agent)
 * are read into one reused buffer, not into fresh memory per read: every byte arrives,
 * in order, as BORROWED_CHUNK and never as 'data'; where the descriptor is a file, the
 * reader says so and the caller reads it the ordinary way.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { BORROWED_CHUNK } from '../protocol/channel.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { REPO_ROOT } from '../test-support/paths.js';
import { readFdIntoReusedBuffer, readerWriterPair } from './reused-read-buffer.js';

const BYTES = 24 * 1024 * 1024 + 12345;
/** A child that writes BYTES of a counting pattern to stdout, in writes of odd sizes. */
const WRITER = `const n=${BYTES};let at=0;const b=Buffer.alloc(777777);function go(){while(at<n){const k=Math.min(b.length,n-at);for(let i=0;i<k;i++)b[i]=(at+i)*7&255;at+=k;if(!process.stdout.write(Buffer.from(b.subarray(0,k))))return process.stdout.once('drain',go)}}go()`;

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7) & 255;
  return b;
}

test('a child\'s stdout through the reader/writer pair arrives whole, in order, only as borrowed chunks', async () => {
  const pair = await readerWriterPair();
  assert.ok(pair !== undefined, 'a socket pair can be made here');
  const child = spawn(process.execPath, ['-e', WRITER], { stdio: ['ignore', pair.writer, 'inherit'] });
  pair.writer.destroy();
  const hash = createHash('sha256');
  let received = 0;
  let dataEvents = 0;
  let reusedOneBuffer = true;
  let firstBuffer: ArrayBufferLike | undefined;
  pair.reader.on('data', () => dataEvents++);
  (pair.reader as Readable).on(BORROWED_CHUNK, (chunk: Buffer) => {
    firstBuffer ??= chunk.buffer;
    if (chunk.buffer !== firstBuffer) reusedOneBuffer = false;
    hash.update(chunk);
    received += chunk.length;
  });
  await once(pair.reader, 'end');
  await once(child, 'exit');
  assert.equal(received, BYTES);
  assert.equal(hash.digest('hex'), createHash('sha256').update(pattern(BYTES)).digest('hex'));
  assert.equal(dataEvents, 0, 'no chunk came as fresh memory');
  assert.ok(reusedOneBuffer, 'every chunk is in the same buffer');
});

test('a child reads its stdin pipe into one buffer, and is told a file is not a pipe', async () => {
  const module = join(REPO_ROOT, 'dist/src/transport/reused-read-buffer.js');
  const channel = join(REPO_ROOT, 'dist/src/protocol/channel.js');
  const reader = `const {readFdIntoReusedBuffer}=await import(${JSON.stringify(module)});const {BORROWED_CHUNK}=await import(${JSON.stringify(channel)});`
    + `const h=require('node:crypto').createHash('sha256');let n=0;const s=readFdIntoReusedBuffer(0);if(s===undefined){console.log('not a pipe');process.exit(0)}`
    + `s.on(BORROWED_CHUNK,(c)=>{h.update(c);n+=c.length});s.on('end',()=>console.log(n+' '+h.digest('hex')))`;
  const script = `(async()=>{${reader}})()`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const data = pattern(BYTES);
  for (let at = 0; at < data.length; at += 1_000_003) {
    if (!child.stdin.write(data.subarray(at, at + 1_000_003))) await once(child.stdin, 'drain');
  }
  child.stdin.end();
  await once(child, 'exit');
  assert.equal(out.trim(), `${BYTES} ${createHash('sha256').update(data).digest('hex')}`);

  const dir = await makeTempDir();
  const file = await open(join(dir.path, 'f'), 'w+');
  try {
    assert.equal(readFdIntoReusedBuffer(file.fd), undefined);
  } finally {
    await file.close();
    await dir.remove();
  }
});

test('no pair is made where the temporary directory lets others replace what is in it, or is missing', async () => {
  const dir = await makeTempDir();
  const saved = process.env.TMPDIR;
  try {
    const shared = join(dir.path, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o777); // writable by everybody, without the sticky bit
    process.env.TMPDIR = shared;
    assert.equal(await readerWriterPair(), undefined);
    await chmod(shared, 0o1777); // as /tmp is: the sticky bit keeps others' hands off
    const pair = await readerWriterPair();
    assert.ok(pair !== undefined);
    pair.reader.destroy();
    pair.writer.destroy();
    assert.deepEqual(await readdir(shared), [], 'the directory the pair was made in is gone');
    process.env.TMPDIR = join(dir.path, 'missing');
    assert.equal(await readerWriterPair(), undefined);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    await dir.remove();
  }
});
