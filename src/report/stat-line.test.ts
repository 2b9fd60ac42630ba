/**
 * The --stat line, in the original tool's exact format so scripts keep parsing it:
 * `STAT. Device size:<n>B. Traffic: Rx:<n>B, Tx:<n>B, Both:<n>B Ratio: <x.xxxx>%.
 * Time: <x.xx>s. Bandwidth: Real:<x.xx>kB/s, Effective:<x.xx>kB/s`.
 * Through an agent (local or over SSH) the traffic is what crossed the channel; when
 * basyn opens both devices itself it is the data written to the destination.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { cmp, devicesFor, imagePair } from '../test-support/images.js';
import { STAT_LINE, describeRun, parseStat, runBasyn, type BasynRun } from '../test-support/run-basyn.js';
import { allTargets, type Target } from '../test-support/targets.js';
import { tempDirForFile } from '../test-support/temp-dir.js';
import { formatStatLine } from './stat-line.js';

describe('formatStatLine', () => {
  test('renders the figures byte for byte in the original format', () => {
    assert.equal(
      formatStatLine({ size: 1048576, rx: 100, tx: 2048, seconds: 1.5 }),
      'STAT. Device size:1048576B. Traffic: Rx:100B, Tx:2048B, Both:2148B Ratio: 0.2048%. Time: 1.50s. Bandwidth: Real:1.40kB/s, Effective:682.67kB/s',
    );
  });
  test('a full copy shows a ratio over 100% and kB of 1024 bytes', () => {
    assert.equal(
      formatStatLine({ size: 2000, rx: 10, tx: 2038, seconds: 2 }),
      'STAT. Device size:2000B. Traffic: Rx:10B, Tx:2038B, Both:2048B Ratio: 102.4000%. Time: 2.00s. Bandwidth: Real:1.00kB/s, Effective:0.98kB/s',
    );
  });
  test('a run too quick to time does not divide by zero', () => {
    const line = formatStatLine({ size: 4096, rx: 1, tx: 2, seconds: 0 });
    assert.match(line, STAT_LINE);
    assert.match(line, /Time: 0\.00s\./);
    assert.doesNotMatch(line, /Infinity|NaN/);
  });
});

const SIZE = 3 * 1024 * 1024 + 99;
const targets = await allTargets();
const dir = tempDirForFile();
let n = 0;

/** Checks one line of real output against the format and its own arithmetic. */
function checkStat(stdout: string, size: number): NonNullable<ReturnType<typeof parseStat>> {
  const lines = stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `only the STAT line on stdout: ${JSON.stringify(stdout)}`);
  assert.match(lines[0]!, STAT_LINE);
  const st = parseStat(lines[0]!)!;
  assert.equal(st.size, size);
  assert.equal(st.both, st.rx + st.tx);
  assert.ok(Math.abs(st.ratio - (100 * st.both) / size) < 0.00006, `ratio ${st.ratio} for ${st.both}/${size}`);
  const m = /Real:(\d+\.\d{2})kB\/s, Effective:(\d+\.\d{2})kB\/s$/.exec(lines[0]!)!;
  const [real, effective] = [Number(m[1]), Number(m[2])];
  // Both bandwidths come from the same time: their ratio is Both/size.
  if (effective > 1) assert.ok(Math.abs(real / effective - st.both / size) < 0.01 + 0.01 * (st.both / size), `Real ${real} Effective ${effective}`);
  return st;
}

for (const { target, skip } of targets) {
  describe(`--stat over ${target.name}`, { skip }, () => {
    for (const action of ['PUSH', 'PULL'] as const) {
      test(`${action} COPY prints one well-formed STAT line with the traffic of the data`, async () => {
        n++;
        const p = await imagePair(dir.path, `c${n}`, SIZE, 11 + n, 'all');
        const { local, remote } = devicesFor(action, p);
        const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', action, '-m', 'COPY', '--stat'], { env: target.env });
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(await cmp(p.source, p.destination));
        const st = checkStat(r.stdout, SIZE);
        // Random data does not compress: the whole device crossed, in the direction of the action.
        const [data, control] = action === 'PUSH' ? [st.tx, st.rx] : [st.rx, st.tx];
        if (!target.agent) {
          // No channel: the traffic is exactly the data written.
          assert.deepEqual({ data, control }, { data: SIZE, control: 0 });
        }
        assert.ok(data >= SIZE && data < SIZE * 1.01, `data traffic ${data} for ${SIZE} bytes`);
        assert.ok(control < 4096, `control traffic ${control}`);
      });
    }

    if (target.agent) {
      test('COPY of zeros is compressed: the traffic is a tiny fraction of the size', async () => {
        const { p, r } = await copyOfZeros(target);
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(await cmp(p.source, p.destination));
        const st = checkStat(r.stdout, SIZE);
        assert.ok(st.ratio < 1, `ratio ${st.ratio}%`);
      });

      test('--recheck alone reports the digest traffic too', async () => {
        const r = await recheckAlone(target);
        assert.equal(r.code, 0, describeRun(r));
        const st = checkStat(r.stdout, SIZE);
        assert.ok(st.rx > 49 * 16, `Rx ${st.rx}: the agent's 49 XXH128 digests (the default) should be counted`);
      });
    } else {
      test('COPY of zeros in-process: the traffic is the bytes written, every one (nothing to compress)', async () => {
        const { p, r } = await copyOfZeros(target);
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(await cmp(p.source, p.destination));
        const st = checkStat(r.stdout, SIZE);
        assert.deepEqual({ rx: st.rx, tx: st.tx, ratio: st.ratio }, { rx: 0, tx: SIZE, ratio: 100 });
      });

      test('--recheck alone in-process writes nothing, so no traffic', async () => {
        const r = await recheckAlone(target);
        assert.equal(r.code, 0, describeRun(r));
        const st = checkStat(r.stdout, SIZE);
        assert.equal(st.both, 0);
      });
    }
  });
}

async function copyOfZeros(target: Target): Promise<{ p: Awaited<ReturnType<typeof imagePair>>; r: BasynRun }> {
  n++;
  const p = await imagePair(dir.path, `z${n}`, SIZE, 3, 'all');
  await writeFile(p.source, Buffer.alloc(SIZE));
  const r = await runBasyn(['-l', p.source, '-r', p.destination, ...target.args, '-a', 'PUSH', '-m', 'COPY', '--stat'], { env: target.env });
  return { p, r };
}

async function recheckAlone(target: Target): Promise<BasynRun> {
  n++;
  const p = await imagePair(dir.path, `r${n}`, SIZE, 21 + n, 'none');
  return runBasyn(['-l', p.source, '-r', p.destination, ...target.args, '--recheck', '--stat', '--buffer=64'], { env: target.env });
}
