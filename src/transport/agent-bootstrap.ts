/**
 * How the agent reaches the other side. The remote host runs a fixed one-line
 * program (`node -e BOOTSTRAP`) that reads a length-prefixed script from stdin and
 * runs it; the script is the agent bundle. Nothing else is installed there, and
 * nothing the user typed is part of the command the remote shell sees.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { START_MARKER } from './protocol-start.js';

/** Exit codes of the bootstrap, so the client can say what went wrong. */
export const BOOTSTRAP_EXIT_OLD_NODE = 97;
export const BOOTSTRAP_EXIT_NO_SCRIPT = 98;
export const MIN_NODE_MAJOR = 18;

/**
 * Must contain no single quote (it travels inside '...' through the remote shell)
 * and must read exactly the script's bytes, leaving the protocol on stdin. The script
 * arrives deflated (raw deflate): u32 big-endian length, then the compressed bytes.
 * Its first write on stdout is the start marker, so that whatever the remote shell
 * printed before node ran can be told apart from the protocol.
 */
export const BOOTSTRAP = [
  `const v=process.versions.node.split(".").map(Number);`,
  `if(v[0]<${MIN_NODE_MAJOR}){process.stderr.write("basyn: remote node "+process.version+" is too old, basyn needs node >= ${MIN_NODE_MAJOR}\\n");process.exit(${BOOTSTRAP_EXIT_OLD_NODE})}`,
  `const fs=require("fs");`,
  `fs.writeSync(1,${JSON.stringify(START_MARKER.toString('latin1'))});`,
  `function rd(n){const b=Buffer.alloc(n);let o=0;while(o<n){let k=0;try{k=fs.readSync(0,b,o,n-o,null)}catch(e){if(e.code==="EAGAIN"){Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,5);continue}throw e}if(k===0)process.exit(${BOOTSTRAP_EXIT_NO_SCRIPT});o+=k}return b}`,
  `const s=require("zlib").inflateRawSync(rd(rd(4).readUInt32BE(0))).toString("utf8");`,
  `const m={exports:{}};new Function("require","module","exports",s)(require,m,m.exports);`,
].join('');

/**
 * Which agent to send: "core" hashes with node:crypto only and is small; "full" also
 * carries the WebAssembly hashes (XXH128, BLAKE3).
 */
export type AgentVariant = 'core' | 'full';

const cached = new Map<AgentVariant, Buffer>();

/** The deflated agent bundle framed for the bootstrap: u32 big-endian length, then the bytes. */
export function framedAgentScript(variant: AgentVariant): Buffer {
  let framed = cached.get(variant);
  if (framed === undefined) {
    const path = fileURLToPath(new URL(`../../agent.${variant}.cjs.z`, import.meta.url));
    const script = readFileSync(path);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(script.length, 0);
    framed = Buffer.concat([head, script]);
    cached.set(variant, framed);
  }
  return framed;
}
