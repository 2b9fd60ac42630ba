/**
 * Entry point of the agent bundles (dist/agent.core.cjs and dist/agent.full.cjs). The bootstrap in
 * transport/agent-bootstrap.ts has already read this script from stdin; what
 * follows on stdin is the protocol.
 */
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { VERSION } from '../version.js';
import { AgentServer } from './agent-server.js';

// The agent's JavaScript is thin glue around native reads, hashes and zlib, so V8's
// optimising compilers buy it no measurable speed; what they do cost is memory that
// grows with the length of the run (their code pages and working memory: about 8 MiB
// more RSS on a 4 GiB SYNC than on a 1 GiB one). Capped at the baseline compiler, the
// agent's footprint is flat. --max-opt (unlike --no-opt) also covers Maglev, on by
// default in newer nodes; set before any of the agent's code has run hot.
setFlagsFromString('--max-opt=1');

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

const debug = process.env.BASYN_AGENT_DEBUG === '1';
const server = new AgentServer(process.stdin, protocolOutput(), {
  software: `basyn-agent ${VERSION} node ${process.version}`,
  log: debug ? (line) => process.stderr.write(`${line}\n`) : undefined,
});
void server.done.then((code) => process.exit(code));
