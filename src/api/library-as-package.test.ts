/**
 * The library, used the way an outside program uses it: `import ... from 'basyn'`
 * through node_modules (a symlink to this checkout, so package.json's "exports" and
 * "types" are what resolve), run as a separate node process. sync with an
 * AbortSignal and progress events, a UsageError, an aborted run rejecting with an
 * InterruptedError, recheck; and a TypeScript consumer type-checked against the
 * published declarations.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cmp, scribble, writeImage } from '../test-support/images.js';
import { REPO_ROOT } from '../test-support/paths.js';
import { jsonOf, runPlaces } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const execFileAsync = promisify(execFile);

const BLOCK = 256 * 1024;
const SIZE = 12 * BLOCK + 333;
const CHANGED = [1, 6, 12];
const BIG = 1024 * 1024 * 1024;

const places = await runPlaces();
let dir: { path: string; remove(): Promise<void> };
let app: string;
let n = 0;

/** The outside program: one scenario per run, its findings as JSON on stdout. */
const PROGRAM = `
import { sync, copy, recheck, UsageError, InterruptedError, BasynError } from 'basyn';

const [scenario, json] = process.argv.slice(2);
const o = JSON.parse(json);
const where = o.host !== undefined ? { host: o.host, port: o.port } : {};
const out = {};

function describe(error) {
  return {
    name: error?.name, message: error?.message, exitCode: error?.exitCode, context: error?.context,
    isUsageError: error instanceof UsageError, isInterruptedError: error instanceof InterruptedError,
    isBasynError: error instanceof BasynError,
  };
}

if (scenario === 'sync') {
  const controller = new AbortController();
  const events = [];
  out.result = await sync({
    local: o.source, remote: o.destination, ...where, action: 'PUSH', bufferKiB: o.bufferKiB,
    signal: controller.signal, onProgress: (e) => events.push(e),
  });
  out.events = events;
  out.recheckSame = await recheck({ local: o.source, remote: o.destination, ...where, bufferKiB: o.bufferKiB });
} else if (scenario === 'usage') {
  for (const [name, run] of [
    ['rsh without host', () => sync({ local: o.source, remote: o.destination, action: 'PUSH', rsh: 'ssh -C' })],
    ['chunk larger than buffer', () => copy({ local: o.source, remote: o.destination, ...where, action: 'PULL', bufferKiB: 64, chunkKiB: 128 })],
    ['bad action', () => copy({ local: o.source, remote: o.destination, ...where, action: 'SIDEWAYS' })],
  ]) {
    try {
      await run();
      out[name] = 'resolved';
    } catch (error) {
      out[name] = describe(error);
    }
  }
  try {
    await copy({ local: o.source, remote: o.source + '.missing', ...where, action: 'PUSH' });
    out.missing = 'resolved';
  } catch (error) {
    out.missing = describe(error);
  }
} else if (scenario === 'abort') {
  const controller = new AbortController();
  let abortedAt;
  const started = performance.now();
  try {
    await sync({
      local: o.source, remote: o.destination, ...where, action: 'PUSH', bufferKiB: 64, signal: controller.signal,
      onProgress: (e) => {
        if (!e.final && abortedAt === undefined) {
          abortedAt = performance.now();
          out.abortedAfter = e;
          controller.abort();
        }
      },
    });
    out.outcome = 'resolved';
  } catch (error) {
    out.outcome = describe(error);
    out.secondsToReject = abortedAt !== undefined ? (performance.now() - abortedAt) / 1000 : null;
  }
  out.seconds = (performance.now() - started) / 1000;
} else if (scenario === 'recheck-differs') {
  out.result = await recheck({ local: o.source, remote: o.destination, ...where, bufferKiB: o.bufferKiB });
}
process.stdout.write(JSON.stringify(out));
`;

/** A TypeScript consumer: the declarations resolve, and the options are typed. */
const CONSUMER = `
import { sync, copy, recheck, UsageError, InterruptedError, type SyncOptions, type BasynResult, type ProgressEvent } from 'basyn';

const options: SyncOptions = { local: 'a.img', remote: 'b.img', action: 'PUSH', bufferKiB: 64, signal: new AbortController().signal };
const onProgress = (e: ProgressEvent): number => e.done / e.total;
async function main(): Promise<void> {
  const r: BasynResult = await sync({ ...options, onProgress });
  const sent: number = r.bytesSent + r.wire.tx + r.blocks.differing;
  const copied: BasynResult = await copy({ local: 'a.img', remote: 'b.img', action: 'PULL', create: true });
  const same: boolean = (await recheck({ local: 'a.img', remote: 'b.img' })).ok;
  // @ts-expect-error: the action is PUSH or PULL
  await copy({ local: 'a.img', remote: 'b.img', action: 'SIDEWAYS' });
  // @ts-expect-error: copy has no dryRun
  await copy({ local: 'a.img', remote: 'b.img', action: 'PUSH', dryRun: true });
  void [sent, copied, same, new UsageError('x') instanceof Error, InterruptedError];
}
void main;
`;

before(async () => {
  dir = await makeTempDir('basyn-library-');
  app = join(dir.path, 'app');
  await mkdir(join(app, 'node_modules'), { recursive: true });
  await symlink(REPO_ROOT, join(app, 'node_modules', 'basyn'), 'dir');
  await writeFile(join(app, 'program.mjs'), PROGRAM);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'outside-program', private: true, type: 'module' }));
});
after(async () => {
  await dir?.remove();
});

async function runProgram(scenario: string, options: object, env: NodeJS.ProcessEnv): Promise<Record<string, any>> {
  const { stdout } = await execFileAsync(process.execPath, ['program.mjs', scenario, JSON.stringify(options)], { cwd: app, env, timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, any>;
}

async function pair(): Promise<{ source: string; destination: string }> {
  n++;
  const source = join(dir.path, `s${n}.img`);
  const destination = join(dir.path, `d${n}.img`);
  await writeImage(source, SIZE, 80 + n);
  await writeImage(destination, SIZE, 80 + n);
  await scribble(destination, CHANGED.map((b) => b * BLOCK + 3), 50, 800 + n);
  return { source, destination };
}

for (const place of places) {
  const skip = place.skip ?? false;
  const where = place.sshd !== undefined ? { host: place.sshd.host, port: place.sshd.port } : {};

  test(`an outside program syncs two files ${place.name} with an AbortSignal and progress events; the result holds the --json figures`, { skip }, async () => {
    const { source, destination } = await pair();
    const out = await runProgram('sync', { source, destination, ...where, bufferKiB: BLOCK / 1024 }, place.env);
    assert.ok(await cmp(source, destination));
    const r = out.result;
    assert.equal(r.ok, true);
    assert.equal(r.exitCode, 0);
    assert.equal(r.action, 'PUSH');
    assert.equal(r.mode, 'SYNC');
    assert.equal(r.size, SIZE);
    assert.equal(r.host, place.sshd?.host ?? null);
    assert.deepEqual(r.blocks, { compared: 13, differing: CHANGED.length });
    const written = 2 * BLOCK + (SIZE - 12 * BLOCK);
    assert.equal(r.bytesSent, written);
    assert.equal(r.remote.bytesWritten, written);
    assert.equal(r.local.bytesRead, SIZE);
    assert.ok(r.wire.tx >= written, `wire.tx ${r.wire.tx}`);
    assert.equal(r.wire.total, r.wire.rx + r.wire.tx);
    assert.equal(r.error, null);
    // The same fields as the command line's --json.
    const cli = await runBasyn(['-l', source, '-r', destination, ...place.hostArgs, '-a', 'PUSH', '-m', 'SYNC', '--json'], { env: place.env });
    assert.deepEqual(Object.keys(r), Object.keys(jsonOf(cli)));
    // Progress: at least the final event of the SYNC phase.
    const events = out.events as { phase: string; done: number; total: number; final: boolean }[];
    assert.ok(events.length >= 1, 'progress events arrive');
    assert.deepEqual(Object.keys(events[0]!), ['phase', 'done', 'total', 'percent', 'bytesPerSecond', 'etaSeconds', 'final']);
    const last = events.at(-1)!;
    assert.equal(last.phase, 'SYNC');
    assert.equal(last.final, true);
    assert.equal(last.done, SIZE);
    assert.equal(last.total, SIZE);
    assert.equal(out.recheckSame.ok, true);
    assert.deepEqual(out.recheckSame.recheck, { compared: 13, differing: 0, firstDifference: null });
  });

  test(`recheck resolves with ok false when the files differ ${place.name} (not a rejection)`, { skip }, async () => {
    const { source, destination } = await pair();
    const out = await runProgram('recheck-differs', { source, destination, ...where, bufferKiB: BLOCK / 1024 }, place.env);
    assert.equal(out.result.ok, false);
    assert.equal(out.result.exitCode, 2);
    assert.deepEqual(out.result.recheck, { compared: 13, differing: CHANGED.length, firstDifference: BLOCK });
  });

  test(`wrong options throw a UsageError, a missing device a DeviceError with its context, in an outside program ${place.name}`, { skip }, async () => {
    const { source, destination } = await pair();
    const out = await runProgram('usage', { source, destination, ...where }, place.env);
    for (const [name, pattern] of [
      // In the library's words, not the command line's.
      ['rsh without host', /^rsh needs host$/],
      ['chunk larger than buffer', /^chunkKiB can't be larger than bufferKiB \(128 > 64\)$/],
      ['bad action', /^action must be 'PUSH' or 'PULL', got the string "SIDEWAYS"$/],
    ] as const) {
      const e = out[name];
      assert.notEqual(e, 'resolved', `${name} resolved`);
      assert.equal(e.isUsageError, true, `${name}: ${JSON.stringify(e)}`);
      assert.equal(e.isBasynError, true);
      assert.equal(e.name, 'UsageError');
      assert.equal(e.exitCode, 1);
      assert.match(e.message, pattern);
    }
    // A runtime error is typed too, and carries the --json error's information.
    const missing = out.missing;
    assert.notEqual(missing, 'resolved');
    assert.equal(missing.name, 'DeviceError');
    assert.equal(missing.isBasynError, true);
    assert.equal(missing.exitCode, 2);
    assert.deepEqual(missing.context, { side: 'remote', device: `${source}.missing`, operation: 'open' });
  });

  test(`aborting a longer run ${place.name} rejects with an InterruptedError, promptly`, { skip }, async () => {
    n++;
    const source = join(dir.path, `big${n}.img`);
    const destination = join(dir.path, `big${n}.dst.img`);
    for (const path of [source, destination]) {
      await writeFile(path, '');
      await truncate(path, BIG); // sparse: 1 GiB to hash, nothing on disk
    }
    const out = await runProgram('abort', { source, destination, ...where }, place.env);
    assert.notEqual(out.outcome, 'resolved', `the run finished in ${out.seconds} s before it could be aborted`);
    assert.ok(out.abortedAfter !== undefined, `aborted on a progress event: ${JSON.stringify(out)}`);
    assert.equal(out.outcome.isInterruptedError, true, JSON.stringify(out.outcome));
    assert.equal(out.outcome.name, 'InterruptedError');
    assert.equal(out.outcome.exitCode, 2);
    assert.match(out.outcome.message, /interrupted/);
    assert.ok(out.secondsToReject < 5, `rejected ${out.secondsToReject} s after the abort`);
  });
}

test('a TypeScript program type-checks against the published declarations (typed options, result, progress events)', async () => {
  const consumer = join(dir.path, 'ts-app');
  await mkdir(join(consumer, 'node_modules'), { recursive: true });
  await symlink(REPO_ROOT, join(consumer, 'node_modules', 'basyn'), 'dir');
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'outside-ts-program', private: true, type: 'module' }));
  await writeFile(join(consumer, 'main.ts'), CONSUMER);
  await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false,
      types: ['node'], typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
    },
    files: ['main.ts'],
  }));
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await execFileAsync(process.execPath, [tsc, '-p', consumer], { cwd: consumer, timeout: 60_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    assert.fail(`tsc found errors:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
});
