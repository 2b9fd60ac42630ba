#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// basyn's JavaScript only steers native reads, hashes, zlib and pipes: V8's optimising
// compilers gain it nothing measurable, and their memory grows with the length of a run
// (7 MiB more RSS on a 4 GiB SYNC than on a 1 GiB one). The agent does the same; see
// docs/design.md. Set before the CLI's modules load, hence the dynamic import.
setFlagsFromString('--max-opt=1');
const { cliMain } = await import('../dist/src/cli/main.js');

cliMain();
