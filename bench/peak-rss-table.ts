/**
 * The peak RSS table: basyn's memory (the command's and the agent's) across --buffer
 * sizes, modes, zero and random data, in-process, through the local agent and over a
 * private sshd. Every cell is one run; a run that passes --cap is killed and shown as
 * such. README.md ("Memory", under Performance) says what bound holds.
 *
 *   npm run peak-rss -- [--size MIB] [--buffers 1,4,16]
 *     [--modes COPY,SYNC,BITMAP] [--actions PUSH,PULL] [--places local,agent,ssh]
 *     [--data zero,random,mixed] [--cap MIB] [--bin PATH/bin/basyn.js] [--zlevel N]
 *
 * SYNC moves every block: a zero source is synced onto a random destination and a
 * random source onto an empty one. BITMAP is a first bitmap run (every entry unknown)
 * onto an empty destination. COPY writes onto an empty destination. `mixed` is the
 * bench's compressible image (bench/images.ts): zlib on the sending side.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runWithPeakRss, type PeakRssRun } from '../src/test-support/peak-rss.js';
import { startSshd } from '../src/test-support/sshd.js';
import { writeMixedImage, writeRandomImage, writeSparseImage } from './images.js';

const MiB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    buffers: { type: 'string', default: '1,4,16,64,2048,65536' },
    modes: { type: 'string', default: 'COPY,SYNC' },
    actions: { type: 'string', default: 'PUSH' },
    places: { type: 'string', default: 'local,ssh' },
    data: { type: 'string', default: 'zero,random' },
    cap: { type: 'string', default: '1024' },
    bin: { type: 'string' },
    zlevel: { type: 'string' },
  },
});

const list = (s: string): string[] => s.split(',').map((w) => w.trim()).filter((w) => w !== '');
const size = Number(values.size) * MiB;
const buffers = list(values.buffers).map(Number);
const modes = list(values.modes).map((m) => m.toUpperCase());
const actions = list(values.actions).map((a) => a.toUpperCase());
const places = list(values.places);
const kinds = list(values.data);
const capMiB = Number(values.cap);

const dir = await mkdtemp(join(tmpdir(), 'basyn-peak-rss-'));
// A loaded machine can be slow to accept the first login: try a few times.
let sshd: Awaited<ReturnType<typeof startSshd>> | undefined;
for (let attempt = 1; places.includes('ssh') && attempt <= 3 && typeof sshd !== 'object'; attempt++) sshd = await startSshd();
if (typeof sshd === 'string') throw new Error(`no sshd for the ssh place: ${sshd}`);

try {
  const zero = join(dir, 'zero.img');
  const random = join(dir, 'random.img');
  await writeSparseImage(zero, size);
  await writeRandomImage(random, size, 14);
  const mixed = join(dir, 'mixed.img');
  if (kinds.includes('mixed')) await writeMixedImage(mixed, size, 15);
  const work = join(dir, 'work.img');
  const other = join(dir, 'other.img');
  const bitmap = join(dir, 'run.bitmap');

  const header = ['mode', 'action', 'data', 'place', ...buffers.map((b) => `--buffer ${b}`)];
  console.log(`peak RSS in MiB, command / agent, of runs over ${size / MiB} MiB devices (cap ${capMiB} MiB: a run over it is killed, shown as ">cap")`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const mode of modes) {
    for (const action of actions) {
      for (const kind of kinds) {
        for (const place of places) {
          const cells: string[] = [];
          for (const kib of buffers) {
            const source = kind === 'zero' ? zero : kind === 'mixed' ? mixed : random;
            // The destination gets every block: the other data, or empty.
            if (mode === 'SYNC' && kind === 'zero') await copyFile(random, other);
            else await writeSparseImage(other, size);
            await copyFile(source, work);
            await rm(bitmap, { force: true });
            // `work` holds the source's data; PULL reads it from the remote side.
            const [local, remote] = action === 'PUSH' ? [work, other] : [other, work];
            const args = ['-l', local, '-r', remote, '-a', action, '-m', mode === 'BITMAP' ? 'SYNC' : mode, `--buffer=${kib}`];
            if (mode === 'BITMAP') args.push('-b', bitmap);
            if (values.zlevel !== undefined) args.push(`--zlevel=${values.zlevel}`);
            const where = place === 'ssh' ? ['-h', sshd!.host, '-p', String(sshd!.port)] : place === 'agent' ? ['--remote-node', process.execPath] : [];
            const r: PeakRssRun = await runWithPeakRss([...args, ...where], {
              env: place === 'ssh' ? sshd!.env : process.env, sshdPort: place === 'ssh' ? sshd!.port : undefined, capMiB, bin: values.bin, timeoutMs: 900_000,
            });
            const agent = r.agentMiB === undefined ? '-' : r.agentMiB.toFixed(0);
            const cell = `${r.commandMiB.toFixed(0)} / ${agent}`;
            cells.push(r.overCap !== undefined ? `>cap (${cell})` : r.code !== 0 ? `exit ${r.code} (${cell})` : cell);
            if (r.code !== 0 && r.overCap === undefined) console.error(`${args.join(' ')}: ${r.stderr.trim()}`);
          }
          console.log(`| ${[mode, action, kind, place, ...cells].join(' | ')} |`);
        }
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  if (sshd !== undefined) await sshd.stop();
}
