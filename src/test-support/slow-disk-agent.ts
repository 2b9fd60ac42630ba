/**
 * An agent on a slow disk: --remote-node names a wrapper that runs this node with a
 * preload making the agent's device writes wait, one at a time, `delayMs` each. The
 * WRITE frames it has received then take many seconds to work off, as on a loaded
 * host or a dying disk: an agent busy with a queue of work, for tests of what it does
 * when its client goes away meanwhile.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes the wrapper and its preload into `dir`; returns the wrapper (for --remote-node).
 * `node` is the node it runs (another version's, for the version matrix).
 */
export async function slowDiskNode(dir: string, delayMs = 20, node = process.execPath): Promise<string> {
  const preload = join(dir, 'slow-disk-preload.cjs');
  await writeFile(preload, [
    "const fsp = require('node:fs/promises');",
    'const open = fsp.open;',
    'let queue = Promise.resolve();',
    'fsp.open = async function (...args) {',
    '  const handle = await open.apply(this, args);',
    '  const write = handle.write.bind(handle);',
    '  handle.write = (...a) => {',
    `    const p = queue.then(() => new Promise((r) => setTimeout(r, ${delayMs}))).then(() => write(...a));`,
    '    queue = p.catch(() => undefined);',
    '    return p;',
    '  };',
    '  return handle;',
    '};',
    '',
  ].join('\n'));
  const wrapper = join(dir, node === process.execPath ? 'slow-disk-node.sh' : `slow-disk-node-${process.hrtime.bigint()}.sh`);
  await writeFile(wrapper, `#!/bin/sh\nexec '${node}' --require '${preload}' "$@"\n`);
  await chmod(wrapper, 0o755);
  return wrapper;
}
