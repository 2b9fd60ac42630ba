/**
 * What file a path names, whatever the name: two paths name one file when they end
 * at the same inode (after symlinks, and whatever hard link they go through). A path
 * whose file does not exist yet is known by the real path it would be created at,
 * following symlinks to the end of the chain even when the last one dangles.
 */
import { constants, type Stats } from 'node:fs';
import { readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Symlinks followed before giving up, as the kernel does (ELOOP). */
const MAX_LINKS = 40;

/** O_NONBLOCK: opening a FIFO would otherwise wait for its other end, forever. */
export const OPEN_NONBLOCK = constants.O_NONBLOCK ?? 0;

/**
 * The real path `path` names: the file itself when it exists, else the path a create
 * through `path` would make (the end of a dangling symlink chain). Throws what stat
 * would (ENOENT for a missing directory, ELOOP, EACCES).
 */
export async function realTarget(path: string): Promise<string> {
  let at = resolve(path);
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    try {
      return await realpath(at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const parent = await realpath(dirname(at));
    const here = join(parent, basename(at));
    let link: string;
    try {
      link = await readlink(here);
    } catch (error) {
      // Not a symlink (EINVAL) or not there (ENOENT): this is where the file would be.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') return here;
      throw error;
    }
    at = resolve(parent, link);
  }
  throw Object.assign(new Error(`ELOOP: too many symbolic links: ${path}`), { code: 'ELOOP' });
}

/** The identity of an existing file: its device and inode. */
export function identityOf(info: Stats): string {
  return `inode ${info.dev}:${info.ino}`;
}

/**
 * The identity of the file `path` names (device and inode), or of the file it would
 * create (its real path); undefined when that can't be found out (no permission, a
 * missing directory): such a path can't be opened either, and its open says why.
 */
export async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    return identityOf(await stat(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  try {
    return `path ${await realTarget(path)}`;
  } catch {
    return undefined;
  }
}

/** What kind of file a non-regular file is, for messages. */
export function kindOf(info: Stats): string {
  if (info.isFile()) return 'a regular file';
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}
