/**
 * UNDO_OPEN / UNDO_FINISH spoken to the agent in raw frames: the agent writes a valid
 * undo file of the old contents of what it overwrites; and a client that asks out of
 * order (read-only device, after a WRITE, a WRITE before UNDO_STATE or after
 * UNDO_FINISH, twice, a FINISH without OPEN) gets an ERROR, never a write the undo
 * file does not cover.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DeltaFile } from '../delta/delta-reader.js';
import { Encoding, ErrorCode, MessageType, OpenCodec, type Message } from '../protocol/protocol.js';
import { sha256File, writeImage } from '../test-support/images.js';
import { RawAgentSession, clientHello, encode } from '../test-support/in-memory-agent.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const SIZE = 1024 * 1024;
const BLOCK = 64 * 1024;
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-agent-undo-');
});
after(async () => dir.remove());

/** The first frame of `type` (answering request `id`, if given), or the first ERROR. */
async function frame(s: RawAgentSession, type: MessageType, what: string, id?: number): Promise<Message> {
  let timer: NodeJS.Timeout | undefined;
  const m = await Promise.race([
    s.waitForFrame((f) => (f.type === type && (id === undefined || ('id' in f && f.id === id))) || f.type === MessageType.Error).finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung`)), 5000))),
  ]);
  assert.ok(m !== undefined, `no ${what}`);
  return m;
}

async function session(writable = true): Promise<{ s: RawAgentSession; image: string; sha: string; undo: string }> {
  n++;
  const image = join(dir.path, `device${n}.img`);
  await writeImage(image, SIZE, n);
  const s = new RawAgentSession();
  s.send(clientHello());
  s.sendMessage({ type: MessageType.Open, id: 1, writable, hashId: 0, codec: OpenCodec.None, level: 0, rateLimit: 0, blockSize: BLOCK, createSize: 0, path: image });
  assert.equal((await frame(s, MessageType.Opened, 'OPENED')).type, MessageType.Opened);
  return { s, image, sha: await sha256File(image), undo: join(dir.path, `device${n}.undo`) };
}

const write = (offset: number, fill: number): Buffer =>
  encode({ type: MessageType.Write, offset, rawLength: 4096, encoding: Encoding.Raw, payload: Buffer.alloc(4096, fill) });

test('UNDO_OPEN, WRITEs, UNDO_FINISH: the undo file holds the old blocks and reads back whole', async () => {
  const { s, image, undo } = await session();
  s.sendMessage({ type: MessageType.UndoOpen, id: 2, path: undo });
  assert.equal((await frame(s, MessageType.UndoState, 'UNDO_STATE')).type, MessageType.UndoState);
  s.send(Buffer.concat([write(0, 0xaa), write(SIZE - 4096, 0xbb)]));
  s.sendMessage({ type: MessageType.UndoFinish, id: 3 });
  const done = await frame(s, MessageType.UndoState, 'UNDO_STATE', 3) as Extract<Message, { type: MessageType.UndoState }>;
  assert.equal(done.type, MessageType.UndoState, JSON.stringify(done));
  assert.deepEqual([done.entries, done.dataBytes, done.fileSize], [2, 8192, (await stat(undo)).size]);
  s.sendMessage({ type: MessageType.Bye });
  assert.equal(await s.server.done, 0);
  const now = await readFile(image);
  assert.ok(now.subarray(0, 4096).equals(Buffer.alloc(4096, 0xaa)) && now.subarray(SIZE - 4096).equals(Buffer.alloc(4096, 0xbb)));
  const file = await DeltaFile.open(undo);
  try {
    assert.equal(file.entryCount, 2);
    assert.equal(file.interrupted, false);
    assert.equal(file.header.unitSize, BLOCK);
  } finally {
    await file.close();
  }
});

const refusals: { name: string; writable?: boolean; steps: (s: RawAgentSession, undo: string) => Promise<void>; message: RegExp }[] = [
  {
    name: 'UNDO_OPEN on a device opened read-only', writable: false, message: /not opened for writing/,
    steps: async (s, undo) => s.sendMessage({ type: MessageType.UndoOpen, id: 2, path: undo }),
  },
  {
    name: 'a WRITE sent before UNDO_STATE answered', message: /WRITE while the undo file is being created/,
    steps: async (s, undo) => s.send(Buffer.concat([encode({ type: MessageType.UndoOpen, id: 2, path: undo }), write(0, 0xee)])),
  },
  {
    name: 'a WRITE after UNDO_FINISH', message: /WRITE while the undo file is completed/,
    steps: async (s, undo) => {
      s.sendMessage({ type: MessageType.UndoOpen, id: 2, path: undo });
      await frame(s, MessageType.UndoState, 'UNDO_STATE');
      s.send(Buffer.concat([encode({ type: MessageType.UndoFinish, id: 3 }), write(0, 0xee)]));
    },
  },
  {
    name: 'a second UNDO_OPEN', message: /UNDO_OPEN must come once, before any WRITE/,
    steps: async (s, undo) => {
      s.sendMessage({ type: MessageType.UndoOpen, id: 2, path: undo });
      await frame(s, MessageType.UndoState, 'UNDO_STATE');
      s.send(Buffer.concat([encode({ type: MessageType.UndoOpen, id: 3, path: `${undo}.2` }), write(0, 0xee)]));
    },
  },
  {
    name: 'UNDO_FINISH without UNDO_OPEN', message: /UNDO_FINISH without an open undo file/,
    steps: async (s) => s.send(Buffer.concat([encode({ type: MessageType.UndoFinish, id: 2 }), write(0, 0xee)])),
  },
];

for (const c of refusals) {
  test(`the agent refuses ${c.name} with an ERROR, and the device is untouched`, async () => {
    const { s, image, sha, undo } = await session(c.writable ?? true);
    await c.steps(s, undo);
    const error = await frame(s, MessageType.Error, 'ERROR');
    s.end();
    assert.equal(await s.server.done, 1);
    assert.equal(error.type, MessageType.Error);
    const e = error as Extract<Message, { type: MessageType.Error }>;
    assert.equal(e.code, ErrorCode.Protocol);
    assert.match(e.message, c.message);
    assert.equal(await sha256File(image), sha, 'the device changed');
  });
}

test('an UNDO_OPEN after a WRITE is refused: that write would not be covered', async () => {
  const { s, undo } = await session();
  s.send(write(0, 0xee));
  s.sendMessage({ type: MessageType.UndoOpen, id: 2, path: undo });
  const error = await frame(s, MessageType.Error, 'ERROR') as Extract<Message, { type: MessageType.Error }>;
  s.end();
  await s.server.done;
  assert.match(error.message, /UNDO_OPEN must come once, before any WRITE/);
  await assert.rejects(stat(undo), { code: 'ENOENT' });
});
