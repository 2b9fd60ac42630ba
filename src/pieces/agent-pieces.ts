/**
 * Pieces: optional modules (WebAssembly builds, mostly) that travel to the agent only
 * when a run needs them. The agent bundle is small and leaves them out; the client
 * sends, after the agent script, just the pieces the run will use (each deflated),
 * and the bootstrap hands their sources over here. They are evaluated on first use,
 * so a piece that was sent but not needed costs no compile either.
 *
 * To add one: an entry in PIECES (its name and the file esbuild bundles into
 * dist/pieces/NAME.cjs, a CommonJS module), `loadPiece(NAME)` where it is used, and
 * the name in the list the run sends (run.ts: piecesForRun). Names are plain words
 * (they travel as the first line of the piece's frame).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const PIECES = {
  /** XXH128 (hash-wasm's build of xxHash's XXH3-128). */
  xxh128: 'node_modules/hash-wasm/dist/xxhash128.umd.min.js',
  /** BLAKE3 (hash-wasm). */
  blake3: 'node_modules/hash-wasm/dist/blake3.umd.min.js',
  /** zstd (@hpcc-js/wasm-zstd), for an agent whose node has no zstd built in (protocol/zstd-wasm.ts). */
  zstd: 'node_modules/@hpcc-js/wasm-zstd/dist/index.js',
} as const;

export type PieceName = keyof typeof PIECES;

/** Where the bootstrap (and a hashing thread's start) leaves the sources it received. */
const SOURCES = Symbol.for('basyn.pieces');

/** Set in the agent bundle and the hashing thread's bundle: pieces never come from files there. */
declare const __BASYN_BUNDLED__: boolean | undefined;

type Sources = Record<string, string>;

function received(): Sources | undefined {
  return (globalThis as unknown as Record<symbol, Sources | undefined>)[SOURCES];
}

/** Makes pieces' sources available to loadPiece in this thread (a hashing thread gets them this way). */
export function providePieces(sources: Sources): void {
  const g = globalThis as unknown as Record<symbol, Sources | undefined>;
  g[SOURCES] = { ...g[SOURCES], ...sources };
}

/** The source of a piece: as received, or (in the command, run from dist/) its built file. */
export function pieceSource(name: PieceName): string {
  const given = received()?.[name];
  if (typeof given === 'string') return given;
  if (typeof __BASYN_BUNDLED__ === 'boolean') throw new Error(`the agent was not sent its ${name} module`);
  return readFileSync(fileURLToPath(new URL(`../../pieces/${name}.cjs`, import.meta.url)), 'utf8');
}

/** Whether loadPiece(name) can succeed here: always in the command; in the agent, if it was sent. */
export function hasPiece(name: PieceName): boolean {
  if (typeof __BASYN_BUNDLED__ !== 'boolean') return true;
  return typeof received()?.[name] === 'string';
}

/** The sources of the named pieces, for a thread this process starts. */
export function pieceSources(names: readonly PieceName[]): Sources {
  return Object.fromEntries(names.map((n) => [n, pieceSource(n)]));
}

const loaded = new Map<PieceName, unknown>();

/** A piece's exports (evaluated once per thread, as a CommonJS module). */
export function loadPiece<T>(name: PieceName): T {
  if (!loaded.has(name)) {
    const module = { exports: {} as unknown };
    // The source is ours (built with this very command and sent by it), not the wire's peer's.
    const load = typeof require === 'function' ? require : createRequire(import.meta.url);
    new Function('module', 'exports', 'require', pieceSource(name))(module, module.exports, load);
    loaded.set(name, module.exports);
  }
  return loaded.get(name) as T;
}
