/**
 * One end-to-end transfer between a fresh pair of images, checked the way every
 * transfer test checks it: exit 0, cmp equal, source unchanged, a STAT line with
 * the right device size.
 */
import assert from 'node:assert/strict';
import { cmp, devicesFor, imagePair, sha256File } from './images.js';
import { describeRun, parseStat, runBasyn } from './run-basyn.js';
import type { Target } from './targets.js';

export type Stat = NonNullable<ReturnType<typeof parseStat>>;

let counter = 0;

export async function transferAndCompare(
  folder: string,
  target: Target,
  action: 'PUSH' | 'PULL',
  modeArgs: readonly string[],
  size: number,
  changes: number[] | 'all',
  seed = 300,
): Promise<Stat> {
  counter++;
  const p = await imagePair(folder, `t${counter}`, size, seed + counter, changes);
  assert.equal(await cmp(p.source, p.destination), false, 'the images must differ before the run');
  const sourceHash = await sha256File(p.source);
  const { local, remote } = devicesFor(action, p);
  const r = await runBasyn(['-l', local, '-r', remote, ...target.args, '-a', action, ...modeArgs, '--stat'], { env: target.env });
  assert.equal(r.code, 0, describeRun(r));
  assert.ok(await cmp(p.source, p.destination), `cmp: devices differ after ${action} ${modeArgs.join(' ')} of ${size} bytes`);
  assert.equal(await sha256File(p.source), sourceHash, 'the source changed');
  const stat = parseStat(r.stdout);
  assert.ok(stat !== undefined, `no STAT line in ${JSON.stringify(r.stdout)}`);
  assert.equal(stat.size, size);
  return stat;
}

/** Offsets spread over a device: start, end, middle, and both sides of block boundaries. */
export function scatteredOffsets(size: number, block: number): number[] {
  const out = [0, size - 1, Math.floor(size / 3), Math.floor(size / 2) + 17];
  for (let at = block; at < size; at += 5 * block) out.push(at - 1, at);
  return out;
}
