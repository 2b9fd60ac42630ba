/**
 * Node binaries of other major versions (18, 22, 24) for the version matrix. They are
 * installed from the npm registry into .cache/node-versions/ by scripts/node-versions.mjs
 * (CI does it in .ci/run). A test that needs one and cannot get it skips with the reason,
 * except under CI=true, where the matrix is part of what CI proves and a missing binary
 * fails.
 */
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './paths.js';

interface NodeVersionsScript {
  installNode(major: number | string): string;
}

const found = new Map<number | string, string>();

/**
 * The path of a node binary of this major version (or of this exact version,
 * "18.0.0"), or the reason there is none.
 */
export async function nodeBinary(major: number | string): Promise<{ path: string; version: string } | string> {
  let path = found.get(major);
  try {
    if (path === undefined) {
      const script = (await import(new URL('scripts/node-versions.mjs', `file://${REPO_ROOT}`).href)) as NodeVersionsScript;
      path = script.installNode(major);
      found.set(major, path);
    }
    const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
    return { path, version };
  } catch (error) {
    const reason = `node ${major} not available: ${(error as Error).message.split('\n')[0]}`;
    if (process.env.CI === 'true') throw new Error(reason);
    return reason;
  }
}

/** A node of this major version: the one running the tests when it is that version. */
export async function nodeOfMajor(major: number): Promise<{ path: string; version: string } | string> {
  if (Number(process.versions.node.split('.')[0]) === major) return { path: process.execPath, version: process.version };
  return nodeBinary(major);
}
