/**
 * Every codec and level extreme, end to end with the real basyn command: through a
 * local agent and over the test sshd, PUSH and PULL, cmp after each. auto on
 * compressible, incompressible, zero and mixed data (and what --json says each codec
 * carried); an agent on node 24 or 22 (built-in zstd) with this command (node 20:
 * WASM); an agent that offers no zstd; --bwlimit's wire rate.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cmp, seededBytes } from '../test-support/images.js';
import { nodeBinary } from '../test-support/node-versions.js';
import { describeRun, jsonOf, LOCAL_AGENT_PLACE, agentPlaces, type RunPlace } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { zstdKind } from './zstd.js';

/**
 * What auto compresses with here, by direction. PUSH: zstd on any node (the built-in,
 * or the WASM build on its threads, whose piece the agent is sent). PULL: the agent
 * compresses, with zstd only where its node has it built in (it is not sent the piece).
 */
const autoCodec = (action: 'PUSH' | 'PULL'): string => (action === 'PUSH' || zstdKind === 'builtin' ? 'zstd' : 'zlib');

const KiB = 1024;
const BLOCK = 128 * KiB;
const SIZE = 12 * BLOCK + 4321;

type Kind = 'compressible' | 'incompressible' | 'zero' | 'mixed';

function imageOf(kind: Kind, seed: number): Buffer {
  const noise = seededBytes(SIZE, seed);
  if (kind === 'incompressible') return noise;
  if (kind === 'zero') return Buffer.alloc(SIZE);
  const text = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) text[i] = noise[i]! % 5 === 0 ? noise[i]! : 97 + ((i >> 4) % 26);
  if (kind === 'compressible') return text;
  // Mixed: a block each of text, noise and zeros, in turn.
  const out = Buffer.alloc(SIZE);
  for (let b = 0; b * BLOCK < SIZE; b++) {
    const from = [text, noise, Buffer.alloc(SIZE)][b % 3]!;
    from.copy(out, b * BLOCK, b * BLOCK, Math.min(SIZE, (b + 1) * BLOCK));
  }
  return out;
}

let dir: { path: string; remove(): Promise<void> };
let n = 0;
const places = await agentPlaces();

before(async () => {
  dir = await makeTempDir('basyn-codecs-');
});
after(async () => {
  await dir.remove();
});

/** One COPY into a fresh destination; exit 0 and cmp equal, or the test fails. Returns the --json report. */
async function copy(place: RunPlace, action: 'PUSH' | 'PULL', kind: Kind, args: readonly string[], extraHost: readonly string[] = place.hostArgs): Promise<Record<string, any>> {
  n++;
  const source = join(dir.path, `${n}.source.img`);
  const destination = join(dir.path, `${n}.destination.img`);
  await writeFile(source, imageOf(kind, n));
  const [local, remote] = action === 'PUSH' ? [source, destination] : [destination, source];
  const r = await runBasyn(['-l', local, '-r', remote, ...extraHost, '-a', action, '-m', 'COPY', '--create', '--buffer', String(BLOCK / KiB), '--json', ...args], { env: place.env });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination), `cmp: ${action} ${args.join(' ')} of ${kind} data ${place.name}: the devices differ`);
  return jsonOf(r);
}

/** The labels of the codecs that carried the blocks, on the side that saw them. */
function labels(j: Record<string, any>, action: 'PUSH' | 'PULL'): string[] {
  return Object.keys(action === 'PUSH' ? j.codecs.sent : j.codecs.received).sort();
}

const LEVELS: [string[], RegExp][] = [
  [['--compress=zstd', '--zlevel=1'], /^zstd-1$/],
  [['--compress=zstd', '--zlevel=19'], /^zstd-19$/],
  [['--compress=zstd'], /^zstd-3$/],
  [['--compress=zlib', '--zlevel=0'], /^raw$/],
  [['--compress=zlib', '--zlevel=9'], /^zlib-9$/],
  [['--zlevel=1'], /^zlib-1$/],
  [['--compress=none'], /^raw$/],
];

for (const place of places) {
  describe(`every codec ${place.name}`, { skip: place.skip }, () => {
    for (const action of ['PUSH', 'PULL'] as const) {
      // Every level once (PUSH through the local agent), the extremes otherwise: the
      // receiving side is the same code whichever level made the frame.
      const extremes = action === 'PUSH' ? [LEVELS[1]!] : [LEVELS[4]!];
      const cases = place.name === 'over ssh' ? extremes : action === 'PUSH' ? LEVELS : [LEVELS[1]!, LEVELS[4]!];
      for (const [args, label] of cases) {
        test(`${action} COPY ${args.join(' ')} of compressible data`, async () => {
          const j = await copy(place, action, 'compressible', args);
          const used = labels(j, action);
          // The receiver of PULL sees codecs, not levels: "zstd-19" shows as "zstd" there.
          const wanted = action === 'PUSH' ? label : new RegExp(label.source.replace(/-[0-9]+/, ''));
          assert.ok(used.length === 1 && wanted.test(used[0]!), `codecs used: ${JSON.stringify(j.codecs)}`);
          if (!/raw/.test(label.source)) assert.ok(j.wire.total < SIZE / 2, `wire ${j.wire.total} bytes for ${SIZE}`);
        });
      }
      test(`${action} COPY with auto (the default) of mixed data`, async () => {
        const j = await copy(place, action, 'mixed', []);
        assert.equal(j.compress, 'auto');
        assert.equal(j.zlevel, null);
        const used = labels(j, action);
        assert.ok(used.includes('raw') && used.includes('zero') && used.some((l) => l.startsWith(autoCodec(action))), `codecs used: ${JSON.stringify(j.codecs)}`);
      });
    }
  });
}

describe('auto through a local agent', () => {
  for (const action of ['PUSH', 'PULL'] as const) {
    test(`${action}: incompressible blocks go raw, zero blocks as markers, compressible ones as ${autoCodec(action)}`, async () => {
      assert.deepEqual(labels(await copy(LOCAL_AGENT_PLACE, action, 'incompressible', []), action), ['raw']);
      const zero = await copy(LOCAL_AGENT_PLACE, action, 'zero', []);
      assert.deepEqual(labels(zero, action), ['zero']);
      assert.ok(zero.wire.total < 4 * KiB, `${zero.wire.total} bytes on the wire for ${SIZE} zero bytes`);
      const text = await copy(LOCAL_AGENT_PLACE, action, 'compressible', []);
      const used = labels(text, action);
      if (autoCodec(action) === 'zstd') {
        // zstd-1 is auto's floor: even where the local pipe outruns the compressor, no compressible block goes raw.
        assert.ok(used.length > 0 && used.every((l) => l.startsWith('zstd')), JSON.stringify(text.codecs));
        assert.ok(text.wire.total < SIZE / 2, `wire ${text.wire.total} bytes for ${SIZE}`);
      } else {
        // On a local pipe the link may outrun zlib: auto may then send some raw.
        assert.ok(used.some((l) => l.startsWith('zlib')) && used.every((l) => l.startsWith('zlib') || l === 'raw'), JSON.stringify(text.codecs));
      }
    });
  }
});

for (const major of [24, 22]) {
  test(`an agent on node ${major} (built-in zstd) and this command (node ${process.versions.node.split('.')[0]}) read each other's zstd blocks`, async (t) => {
    const node = await nodeBinary(major);
    if (typeof node === 'string') return t.skip(node);
    for (const action of ['PUSH', 'PULL'] as const) {
      for (const level of major === 24 ? ['1', '19'] : ['3']) {
        const j = await copy(LOCAL_AGENT_PLACE, action, 'compressible', ['--compress=zstd', `--zlevel=${level}`], ['--remote-node', node.path]);
        assert.ok(labels(j, action)[0]!.startsWith('zstd'), JSON.stringify(j.codecs));
      }
    }
    // The agent sends in PULL: with node's own zstd, auto compresses with zstd there.
    const auto = await copy(LOCAL_AGENT_PLACE, 'PULL', 'compressible', [], ['--remote-node', node.path]);
    assert.ok(labels(auto, 'PULL').includes('zstd'), JSON.stringify(auto.codecs));
  });
}

test('this command on node 24 (built-in zstd) sends auto zstd blocks to an agent on node 20, which decodes them with the WebAssembly piece it was sent', async (t) => {
  const node = await nodeBinary(24);
  if (typeof node === 'string') return t.skip(node);
  if (zstdKind === 'builtin') return t.skip(`this node (${process.version}) has zstd built in: no agent here lacks it`);
  n++;
  const source = join(dir.path, `${n}.source.img`);
  const destination = join(dir.path, `${n}.destination.img`);
  await writeFile(source, imageOf('compressible', n));
  const r = await runBasyn(['-l', source, '-r', destination, '--remote-node', process.execPath, '-a', 'PUSH', '-m', 'COPY', '--create', '--buffer', String(BLOCK / KiB), '--json'], { node: node.path });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(source, destination), 'cmp: the devices differ');
  const j = jsonOf(r);
  assert.ok(labels(j, 'PUSH').some((l) => l.startsWith('zstd')), JSON.stringify(j.codecs));
});

describe('an agent that offers no zstd', () => {
  let noZstdNode: string;
  before(async () => {
    noZstdNode = join(dir.path, 'node-without-zstd');
    await writeFile(noZstdNode, `#!/bin/sh\nBASYN_ZSTD=none exec '${process.execPath}' "$@"\n`);
    await chmod(noZstdNode, 0o755);
  });
  for (const action of ['PUSH', 'PULL'] as const) {
    test(`${action}: auto falls back to zlib`, async () => {
      const j = await copy(LOCAL_AGENT_PLACE, action, 'mixed', [], ['--remote-node', noZstdNode]);
      const used = labels(j, action);
      assert.ok(used.some((l) => l.startsWith('zlib')) && !used.some((l) => l.startsWith('zstd')), JSON.stringify(j.codecs));
    });
    test(`${action}: --compress=zstd fails at once with one line naming the agent, the destination untouched`, async () => {
      const source = join(dir.path, `nozstd-${action}.source.img`);
      const destination = join(dir.path, `nozstd-${action}.destination.img`);
      await writeFile(source, imageOf('compressible', 1));
      await writeFile(destination, Buffer.alloc(SIZE, 0x33));
      const [local, remote] = action === 'PUSH' ? [source, destination] : [destination, source];
      const r = await runBasyn(['-l', local, '-r', remote, '--remote-node', noZstdNode, '-a', action, '-m', 'COPY', '--compress=zstd']);
      assert.equal(r.code, 2, describeRun(r));
      assert.match(r.stderr, /^basyn: --compress=zstd: the agent on this machine \(basyn-agent [^)]*\) offers no zstd \(use --compress=zlib or auto\)\n$/);
      assert.ok((await readFile(destination)).equals(Buffer.alloc(SIZE, 0x33)), 'the destination changed');
    });
  }
});

describe('--bwlimit', () => {
  for (const [value, shown] of [['0', '0'], ['-5', '-5'], ['fast', 'fast'], ['10X', '10X'], ['', '""'], ['1 M', '"1 M"']]) {
    test(`--bwlimit=${value} is a usage error (exit 1)`, async () => {
      const r = await runBasyn(['-l', 'a.img', '-r', 'b.img', '-a', 'PUSH', '-m', 'COPY', `--bwlimit=${value}`]);
      assert.equal(r.code, 1, describeRun(r));
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
      assert.ok(r.stderr.includes(`--bwlimit must be a positive rate`) && r.stderr.includes(`got ${shown}`), r.stderr);
    });
  }
  for (const action of ['PUSH', 'PULL'] as const) {
    test(`${action}: data crosses the link no faster than --bwlimit=1M`, async () => {
      const j = await copy(LOCAL_AGENT_PLACE, action, 'incompressible', ['--bwlimit=1M', '--compress=none']);
      const bytes = action === 'PUSH' ? j.wire.tx : j.wire.rx;
      const rate = bytes / j.seconds;
      assert.ok(bytes > SIZE, `${bytes} bytes on the wire`);
      // Upper bound only: a loaded machine makes the run slower, never faster.
      assert.ok(rate <= 1024 * KiB * 1.1, `${Math.round(rate)} bytes/s over ${j.seconds} s, limit ${1024 * KiB}`);
    });
  }
});
