// Runs every compiled test file (dist/**/*.test.js) with Node's own test runner.
// Node 20 takes no glob, so the files are listed here; arguments are passed through
// (e.g. `npm test -- --test-name-pattern=bitmap`).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...find(path));
    else if (entry.name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const files = find('dist').sort();
const filter = process.env.BASYN_TEST_FILTER;
const chosen = filter ? files.filter((f) => f.includes(filter)) : files;
// node --test with no file runs every test it can find: a filter that matches nothing
// must say so, not start the whole suite.
if (chosen.length === 0) {
  console.error(`BASYN_TEST_FILTER=${filter} matches no test file in dist/`);
  process.exit(1);
}
// Three files at a time on CI's two cores: most test time is spent waiting on ssh,
// child processes, fsync and kill/restart loops, not on the CPU (the suite's wall time
// at 2 was twice its CPU time). BASYN_TEST_CONCURRENCY overrides it.
const concurrency = process.env.BASYN_TEST_CONCURRENCY ?? '3';
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...process.argv.slice(2), ...chosen], { stdio: 'inherit' });
process.exit(result.status ?? 1);
