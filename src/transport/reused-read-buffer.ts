/**
 * Sockets that read into one buffer of their own, again and again, instead of into
 * fresh memory per read (node's `onread`). What they read is emitted as
 * BORROWED_CHUNK, valid only during the call: the channel copies what it keeps into
 * the frames it builds (protocol.ts, FrameDecoder). The agent reads its stdin so, and
 * the command reads its agent's stdout so (through a socket pair, as node makes no
 * plain pipe it could give a read buffer to).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BORROWED_CHUNK } from '../protocol/channel.js';

/**
 * One read's worth: a socket pair holds about 200 KiB and a pipe 64 KiB, so one read
 * takes what is there; reads that fill it come a few thousand times a second at most.
 */
const READ_BUFFER_BYTES = 256 * 1024;

function onread(socket: () => Socket): OnReadOpts {
  const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  return {
    buffer,
    callback: (nread: number, bytes: Uint8Array) => {
      socket().emit(BORROWED_CHUNK, Buffer.from(bytes.buffer, bytes.byteOffset, nread));
      return true;
    },
  };
}

/** Node's Socket constructor takes `onread` (as net.connect does), though its types say so only for connect. */
function readingSocket(options: SocketConstructorOpts, socket: () => Socket): Socket {
  return new Socket({ ...options, onread: onread(socket) } as SocketConstructorOpts);
}

/**
 * A readable socket on `fd` that reads into its own reused buffer, or undefined when
 * `fd` is not a pipe or a socket (a file, a terminal): the caller then reads it the
 * ordinary way.
 */
export function readFdIntoReusedBuffer(fd: number): Socket | undefined {
  let socket: Socket | undefined;
  try {
    socket = readingSocket({ fd, readable: true, writable: false }, () => socket!);
    return socket;
  } catch {
    return undefined;
  }
}

/** How long making the pair may take before a plain pipe is used instead. */
const PAIR_TIMEOUT_MS = 5000;

/**
 * Two connected sockets: `reader` reads into its own reused buffer and is this
 * process's end; `writer` is for a child process's stdout (spawn's stdio), closed here
 * once the child has it. Made through a listening socket in a new private directory
 * (mode 0700, gone before this returns), so nobody else can connect in between; not
 * where the temporary directory lets others replace what is in it (writable by all,
 * without the sticky bit). Undefined where it cannot be done (that, no writable
 * temporary directory, a path too long for a socket, no answer in time): the caller
 * then uses a plain pipe.
 */
export async function readerWriterPair(): Promise<{ reader: Socket; writer: Socket } | undefined> {
  let dir: string | undefined;
  let reader: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  const server = createServer({ pauseOnConnect: true });
  try {
    const parent = tmpdir();
    const mode = (await stat(parent)).mode;
    if ((mode & 0o002) !== 0 && (mode & 0o1000) === 0) return undefined;
    dir = await mkdtemp(join(parent, 'basyn-'));
    const path = join(dir, 's');
    const failed = new Promise<never>((_, reject) => {
      server.on('error', reject);
      timer = setTimeout(() => reject(new Error('no connection in time')), PAIR_TIMEOUT_MS);
    });
    failed.catch(() => undefined);
    await Promise.race([new Promise<void>((resolve) => server.listen(path, () => resolve())), failed]);
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    reader = readingSocket({}, () => reader!);
    const connected = new Promise<void>((resolve, reject) => {
      reader!.once('error', reject);
      reader!.once('close', () => reject(new Error('closed before it connected')));
      reader!.connect(path, () => resolve());
    });
    const [writer] = await Promise.race([Promise.all([accepted, connected]), failed]);
    reader.removeAllListeners('error');
    reader.removeAllListeners('close');
    // Its reader (ProtocolStart) listens for errors from the moment it has the socket.
    reader.on('error', () => undefined);
    return { reader, writer };
  } catch {
    reader?.destroy();
    return undefined;
  } finally {
    clearTimeout(timer);
    server.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
