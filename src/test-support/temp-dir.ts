/** Temporary folders for tests, removed afterwards. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before } from 'node:test';
import { join } from 'node:path';

export async function makeTempDir(prefix = 'basyn-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A temporary folder made before this file's tests run and removed after them;
 * `path` is valid inside the tests.
 */
export function tempDirForFile(prefix?: string): { readonly path: string } {
  let dir: { path: string; remove(): Promise<void> } | undefined;
  before(async () => {
    dir = await makeTempDir(prefix);
  });
  after(async () => {
    await dir?.remove();
  });
  return {
    get path(): string {
      if (dir === undefined) throw new Error('the temporary folder exists only while the tests run');
      return dir.path;
    },
  };
}
