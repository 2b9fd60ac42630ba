/**
 * How the agent reaches the other side. The remote host runs a fixed one-line
 * program (`node -e BOOTSTRAP`) that reads length-prefixed deflated frames from stdin
 * and runs the first; the script is the agent bundle, the others the pieces the run needs. Nothing else is installed there, and
 * nothing the user typed is part of the command the remote shell sees.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PieceName } from '../pieces/agent-pieces.js';
import { START_MARKER } from './protocol-start.js';

/** Exit codes of the bootstrap, so the client can say what went wrong. */
export const BOOTSTRAP_EXIT_OLD_NODE = 97;
export const BOOTSTRAP_EXIT_NO_SCRIPT = 98;
export const MIN_NODE_MAJOR = 18;

/**
 * Options of the agent's node, before `-e`. Young objects live in a V8 new space that
 * grows to 3 x 16 MiB on a busy run; the agent's are small and short-lived (frames,
 * messages, promises: block data is outside the V8 heap), so a 1 MiB semi-space
 * costs no measurable time and keeps tens of MiB off its peak (issue 14, README
 * "Memory"). Every node the agent runs on (>= 18) knows this option.
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1'];

/**
 * Must contain no single quote (it travels inside '...' through the remote shell)
 * and must read exactly the script's bytes, leaving the protocol on stdin. What
 * follows on stdin is frames, each a u32 big-endian length and that many bytes of raw
 * deflate, ended by a length of 0: first the agent script, then the pieces the run
 * needs, each "NAME\n" and its source (left for pieces/agent-pieces.ts to evaluate when
 * first used). Its first write on stdout is the start marker, so that whatever the
 * remote shell printed before node ran can be told apart from the protocol.
 */
export const BOOTSTRAP = [
  `const v=process.versions.node.split(".").map(Number);`,
  `if(v[0]<${MIN_NODE_MAJOR}){process.stderr.write("basyn: remote node "+process.version+" is too old, basyn needs node >= ${MIN_NODE_MAJOR}\\n");process.exit(${BOOTSTRAP_EXIT_OLD_NODE})}`,
  `const fs=require("fs"),z=require("zlib");`,
  `fs.writeSync(1,${JSON.stringify(START_MARKER.toString('latin1'))});`,
  `function rd(n){const b=Buffer.alloc(n);let o=0;while(o<n){let k=0;try{k=fs.readSync(0,b,o,n-o,null)}catch(e){if(e.code==="EAGAIN"){Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,5);continue}throw e}if(k===0)process.exit(${BOOTSTRAP_EXIT_NO_SCRIPT});o+=k}return b}`,
  `const P={};globalThis[Symbol.for("basyn.pieces")]=P;let s;`,
  `for(;;){const n=rd(4).readUInt32BE(0);if(n===0)break;const t=z.inflateRawSync(rd(n)).toString("utf8");if(s===undefined)s=t;else{const i=t.indexOf("\\n");P[t.slice(0,i)]=t.slice(i+1)}}`,
  `const m={exports:{}};new Function("require","module","exports",s)(require,m,m.exports);`,
].join('');

const frames = new Map<string, Buffer>();

/** One file of dist/ (deflated at build time; a piece's begins with its name line) as a frame. */
function frame(file: string): Buffer {
  let framed = frames.get(file);
  if (framed === undefined) {
    const body = readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    framed = Buffer.concat([head, body]);
    frames.set(file, framed);
  }
  return framed;
}

/** What the bootstrap reads: the agent script, then the pieces this run needs, then the end. */
export function framedAgentScript(pieces: readonly PieceName[] = []): Buffer {
  return Buffer.concat([frame('agent.cjs.z'), ...[...new Set(pieces)].map((p) => frame(`pieces/${p}.cjs.z`)), Buffer.alloc(4)]);
}
