/**
 * Entry point of the agent bundle (dist/agent.cjs). The bootstrap in
 * transport/agent-bootstrap.ts has already read this script from stdin; what
 * follows on stdin is the protocol.
 */
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { keepToBaselineCompiler } from '../util/node-features.js';
import { readFdIntoReusedBuffer } from '../transport/reused-read-buffer.js';
import { VERSION } from '../version.js';
import { AgentServer } from './agent-server.js';

// The agent's JavaScript is thin glue around native reads, hashes and zlib, so V8's
// optimising compilers buy it no measurable speed; what they do cost is memory that
// grows with the length of the run (their code pages and working memory: about 8 MiB
// more RSS on a 4 GiB SYNC than on a 1 GiB one). Capped at the baseline compiler, the
// agent's footprint is flat. --max-opt (unlike --no-opt) also covers Maglev, on by
// default in newer nodes; set before any of the agent's code has run hot. (Node 18's
// V8 has no --max-opt: see util/node-features.ts.)
keepToBaselineCompiler();

function protocolOutput(): Writable {
  // process.stdout writes synchronously to pipes on Linux, which would stall the
  // agent's event loop whenever ssh is slow to drain; a socket on fd 1 is asynchronous.
  try {
    return new Socket({ fd: 1, readable: false, writable: true });
  } catch {
    return process.stdout;
  }
}

// The client decides when the session ends (BYE or closing our stdin); a Ctrl-C
// in the user's terminal must not cut writes short here.
process.on('SIGINT', () => undefined);

/**
 * Once the client is gone, the agent gets a short while to let go of its device and
 * then exits whatever it is still doing (writes queued on a slow disk, hashing), so it
 * neither outlives its client nor holds the device's writer lock against the next run.
 */
const GONE_EXIT_MS = 2000;
/** How often the agent checks that the process that started it is still there. */
const PARENT_CHECK_MS = 500;

const debug = process.env.BASYN_AGENT_DEBUG === '1';
// A debug line to a stderr whose reader has gone must not crash the agent mid-write.
process.stderr.on('error', () => undefined);
let exitTimer: NodeJS.Timeout | undefined;
// Read into one reused buffer (transport/reused-read-buffer.ts) where stdin is a pipe or
// a socket, as it is under sshd and for a local agent; else the ordinary way.
const input = readFdIntoReusedBuffer(0) ?? process.stdin;
const server = new AgentServer(input, protocolOutput(), {
  software: `basyn-agent ${VERSION} node ${process.version}`,
  log: debug ? (line) => process.stderr.write(`${line}\n`) : undefined,
  clientGone: () => {
    exitTimer ??= setTimeout(() => process.exit(1), GONE_EXIT_MS);
    exitTimer.unref();
  },
});
void server.done.then((code) => process.exit(code));

// The parent is basyn itself (a local agent), or the sshd session, which ends when the
// connection does. Its end is noticed here even while the agent reads no input (a full
// write backlog pauses it) and so cannot see the input end.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) server.abandon(`the process that started the agent (pid ${parent}) is gone`);
}, PARENT_CHECK_MS).unref();
