#!/usr/bin/env node
// No static import and no top-level await here: a node too old for the command must
// get as far as the version check below and say so in one line, rather than die on
// something basyn's modules use that it lacks.
import('node:fs').then(async ({ readFileSync }) => {
  // The minimum is package.json's "engines" (the agent sent to a remote host runs on
  // older nodes: transport/agent-bootstrap.ts checks that end).
  const engines = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;
  const minimum = Number(/^>=\s*(\d+)/.exec(engines)[1]);
  if (Number(process.versions.node.split('.')[0]) < minimum) {
    process.stderr.write(`basyn: node ${process.version} is too old for the basyn command, which needs node >= ${minimum}\n`);
    process.exit(2);
  }
  // basyn's JavaScript only steers native reads, hashes, zlib and pipes: V8's optimising
  // compilers gain it nothing measurable, and their memory grows with the length of a run
  // (7 MiB more RSS on a 4 GiB SYNC than on a 1 GiB one). The agent does the same; see
  // docs/design.md. Set before the CLI's modules load, hence the dynamic import.
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--max-opt=1');
  // Baseline code compiled on this thread, not a background one: node 24's background
  // compiler can keep a process from ever exiting (util/node-features.ts).
  setFlagsFromString('--no-concurrent-sparkplug');
  // One bundled file (scripts/bundle-cli.mjs): a hundred modules load slower one by one.
  const { cliMain } = await import('../dist/src/cli/main.bundle.mjs');
  cliMain();
}).catch((error) => {
  process.stderr.write(`basyn: cannot start: ${String(error?.message ?? error).split('\n')[0]}\n`);
  process.exit(2);
});
