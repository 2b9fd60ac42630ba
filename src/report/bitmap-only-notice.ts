/**
 * The line that says a bitmap run had no destination. Such a run exits 0 having
 * written no device, and the bitmap now claims the source's blocks: a later run with
 * the destination skips them. Whoever meant to write a destination must see it at
 * once, so it is said whatever the output options.
 */
import { isBitmapOnly, type Options } from '../options/options.js';

export function bitmapOnlyNotice(o: Pick<Options, 'action' | 'local' | 'remote' | 'bitmap' | 'dryRun'> & Partial<Pick<Options, 'writeDelta'>>): string | undefined {
  if (!isBitmapOnly(o)) return undefined;
  const [source, missing] = o.action === 'PUSH' ? [o.local, '-r'] : [o.remote, '-l'];
  return o.dryRun
    ? `bitmap only (no ${missing}): no destination was read or written; the source ${source} was compared with the bitmap ${o.bitmap}, which is unchanged`
    : `bitmap only (no ${missing}): no destination was written; the bitmap ${o.bitmap} now describes the source ${source}`;
}
