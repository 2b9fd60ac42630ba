/**
 * A process can outlive its working directory (another shell removed it). Then every
 * relative path names nothing, and Node cannot even start a worker thread (each one
 * asks for the working directory as it starts: "uv_cwd"). basyn refuses relative paths
 * in that case, and runs its threads and local agent without needing the directory.
 */
import { isAbsolute } from 'node:path';
import { DeviceError, type ErrorContext } from '../errors.js';

export function workingDirectoryIsGone(): boolean {
  try {
    process.cwd();
    return false;
  } catch {
    return true;
  }
}

/** Throws when `path` is relative and there is no working directory to resolve it in. */
export function checkRelativePath(path: string, what: string, context: ErrorContext): void {
  if (isAbsolute(path) || !workingDirectoryIsGone()) return;
  throw new DeviceError(
    `cannot open ${what} ${path}: it is a relative path and the working directory no longer exists (it was removed); give an absolute path or run basyn from an existing directory`,
    { ...context, operation: 'open' },
  );
}
