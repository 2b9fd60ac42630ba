/**
 * An empty source (0 bytes) is refused naming the source, before the destination is
 * opened: with --create nothing is created, and the message is the same whether the
 * remote side is opened here, served by a local agent or reached over ssh, PUSH or PULL.
 */
import assert from 'node:assert/strict';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { describeRun, allPlaces } from '../test-support/run-places.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { makeTempDir } from '../test-support/temp-dir.js';

const places = await allPlaces();
let dir: { path: string; remove(): Promise<void> };
let n = 0;

before(async () => {
  dir = await makeTempDir('basyn-empty-source-');
});
after(async () => {
  await dir?.remove();
});

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

for (const place of places) {
  for (const action of ['PUSH', 'PULL'] as const) {
    for (const mode of ['COPY', 'SYNC'] as const) {
      test(`${action} ${mode} --create from an empty source ${place.name}: exit 2 naming the source, no destination left behind`, { skip: place.skip ?? false, timeout: 60_000 }, async () => {
        n++;
        const source = join(dir.path, `empty${n}.img`);
        const destination = join(dir.path, `new${n}.img`);
        await writeFile(source, '');
        const [local, remote] = action === 'PUSH' ? [source, destination] : [destination, source];
        const r = await runBasyn(['-l', local, '-r', remote, ...place.hostArgs, '-a', action, '-m', mode, '--create'], { env: place.env, timeoutMs: 50_000 });
        assert.equal(r.code, 2, describeRun(r));
        const side = action === 'PUSH' ? 'local' : 'remote';
        const where = action === 'PULL' && place.sshd !== undefined ? ` on host ${place.sshd.host}` : '';
        assert.equal(r.stderr, `basyn: ${side} device ${source}${where} is empty (0 bytes); there is nothing to sync\n`);
        assert.equal(await exists(destination), false, 'no destination was created');
      });
    }
  }
}
