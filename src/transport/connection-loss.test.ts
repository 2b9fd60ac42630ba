/**
 * A connection cut in the middle of a run: the ssh client killed, the remote agent
 * killed, the local agent killed, the agent's stdin or stdout closed early. Each run
 * must exit 2 within seconds with one line saying the connection closed and how far
 * the run got, never a stack trace; a following run then completes and cmp passes.
 * A run without -h starts a local agent only when asked (--remote-node), so the
 * local cases pass it to have an agent to kill.
 */
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import {
  allocatedBytes, sparseImage, sshdOrSkip, stopSshdAfterFile, writeCompressibleImage,
} from '../test-support/fault-fixtures.js';
import { cmp } from '../test-support/images.js';
import {
  childPids, cmdline, describeFinished, isAgentCommand, spawnBasyn, sshAgentPids, waitUntil, type Finished,
} from '../test-support/process-tree.js';
import { runBasyn } from '../test-support/run-basyn.js';
import { LOCAL_AGENT } from '../test-support/targets.js';
import { makeTempDir } from '../test-support/temp-dir.js';

stopSshdAfterFile();

const SIZE = 96 * 1024 * 1024;
/** Cut once this much of the destination is written: well inside the run. */
const CUT_AT = 8 * 1024 * 1024;
/** From the cut to basyn's exit. */
const EXIT_WITHIN_MS = 5000;

let dir: { path: string; remove(): Promise<void> };
let source: string;

before(async () => {
  dir = await makeTempDir('basyn-cut-');
  source = join(dir.path, 'source.img');
  await writeCompressibleImage(source, SIZE, 41);
});
after(async () => dir.remove());

/** The one line basyn printed about the failure, checked for what a user must be told. */
function assertConnectionLossLine(t: TestContext, r: Finished, phase: string): void {
  assert.equal(r.code, 2, describeFinished(r));
  assert.doesNotMatch(r.stderr, /^ {4}at /m, `stack trace on stderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got ${JSON.stringify(r.stderr)}`);
  const line = lines[0]!;
  t.diagnostic(line);
  assert.match(line, /^basyn: /);
  assert.match(line, /connection to .* closed/, line);
  assert.match(line, new RegExp(`during ${phase} after [0-9.]+ (B|KiB|MiB) of 96.0 MiB`), line);
}

interface Cut {
  name: string;
  ssh: boolean;
  mode: 'COPY' | 'SYNC';
  action: 'PUSH' | 'PULL';
  /** Kills something of the running basyn (pid); returns what was killed, for messages. */
  cut(basynPid: number, sshdPort: number | undefined): Promise<string>;
  /** Text the line must also contain (what happened on the far side). */
  says?: RegExp;
}

function killSshClient(basynPid: number): string {
  const ssh = childPids(basynPid).find((p) => /(^|\/)ssh$/.test(cmdline(p)[0] ?? '') || cmdline(p).includes('-T'));
  assert.ok(ssh !== undefined, `no ssh child of basyn ${basynPid}: children ${childPids(basynPid).map((p) => cmdline(p).join(' ').slice(0, 80)).join('; ')}`);
  process.kill(ssh, 'SIGKILL');
  return `ssh ${ssh}`;
}

function killRemoteAgent(sshdPort: number): string {
  const agents = sshAgentPids(sshdPort);
  assert.equal(agents.length, 1, `expected one agent under our sshd, found ${agents.length}`);
  process.kill(agents[0]!, 'SIGKILL');
  return `remote agent ${agents[0]}`;
}

function killLocalAgent(basynPid: number): string {
  const agent = childPids(basynPid).find((p) => isAgentCommand(cmdline(p)));
  assert.ok(agent !== undefined, 'no local agent child');
  process.kill(agent, 'SIGKILL');
  return `local agent ${agent}`;
}

const CUTS: Cut[] = [
  { name: 'ssh client killed during a PUSH COPY', ssh: true, mode: 'COPY', action: 'PUSH', cut: async (pid) => killSshClient(pid), says: /: ssh to host 127\.0\.0\.1 was killed by SIGKILL$/ },
  { name: 'ssh client killed during a PULL SYNC', ssh: true, mode: 'SYNC', action: 'PULL', cut: async (pid) => killSshClient(pid), says: /: ssh to host 127\.0\.0\.1 was killed by SIGKILL$/ },
  { name: 'remote agent killed during a PUSH SYNC', ssh: true, mode: 'SYNC', action: 'PUSH', cut: async (_, port) => killRemoteAgent(port!), says: /: ssh to host 127\.0\.0\.1 ended with code 255 and no message \(the agent was killed or the connection was cut\)$/ },
  { name: 'remote agent killed during a PULL COPY', ssh: true, mode: 'COPY', action: 'PULL', cut: async (_, port) => killRemoteAgent(port!), says: /: ssh to host 127\.0\.0\.1 ended with code 255 and no message \(the agent was killed or the connection was cut\)$/ },
  { name: 'local agent killed during a PUSH COPY', ssh: false, mode: 'COPY', action: 'PUSH', cut: async (pid) => killLocalAgent(pid), says: /: the agent on this machine was killed by SIGKILL$/ },
  { name: 'local agent killed during a PULL SYNC', ssh: false, mode: 'SYNC', action: 'PULL', cut: async (pid) => killLocalAgent(pid), says: /: the agent on this machine was killed by SIGKILL$/ },
];

async function runAndCut(t: TestContext, c: Cut): Promise<void> {
  const sshd = c.ssh ? await sshdOrSkip(t) : undefined;
  if (c.ssh && sshd === undefined) return;
  const destination = join(dir.path, `${c.name.replace(/\W+/g, '-')}.img`);
  await sparseImage(destination, SIZE);
  // PUSH: local = source; PULL: remote = source.
  const [local, remote] = c.action === 'PUSH' ? [source, destination] : [destination, source];
  const hostArgs = sshd !== undefined ? ['-h', sshd.host, '-p', String(sshd.port)] : LOCAL_AGENT.args;
  const args = (zlevel: number): string[] => ['-l', local, '-r', remote, '-a', c.action, '-m', c.mode, '--zlevel', String(zlevel), ...hostArgs];
  const startedAt = Date.now();
  const run = spawnBasyn(args(9), { env: sshd?.env });
  await waitUntil(async () => run.exited || (await allocatedBytes(destination)) >= CUT_AT, 30_000, `${CUT_AT} bytes written to ${destination}`);
  assert.equal(run.exited, false, `the run ended before it could be cut: ${run.stderr}`);
  const cutAt = Date.now();
  t.diagnostic(`cut ${cutAt - startedAt} ms after the start`);
  const what = await c.cut(run.pid, sshd?.port);
  const r = await run.timeExit(cutAt);
  assert.ok(r.ms < EXIT_WITHIN_MS, `exited ${r.ms} ms after ${what} was killed (limit ${EXIT_WITHIN_MS})`);
  assertConnectionLossLine(t, r, c.mode);
  if (c.says !== undefined) assert.match(r.stderr.trim(), c.says);

  // The next run (no compression, so fast) puts everything right.
  const t0 = Date.now();
  const again = await runBasyn(args(0), { env: sshd?.env });
  t.diagnostic(`exit ${r.ms} ms after the cut; the next run took ${Date.now() - t0} ms`);
  assert.equal(again.code, 0, `${again.stderr}`);
  assert.ok(await cmp(source, destination), 'devices differ after the run that followed the cut');
}

for (const c of CUTS) {
  test(`${c.name}: exit 2 within seconds, one line saying how far it got, and a next run repairs it`, async (t) => {
    await runAndCut(t, c);
  });
}

/**
 * The agent's side of the pipe closing early: --remote-node runs node through a
 * wrapper that passes only the first bytes of the agent's stdin (or stdout) on.
 */
for (const side of ['stdin', 'stdout'] as const) {
  for (const ssh of [false, true]) {
    test(`the agent's ${side} closing early${ssh ? ' over SSH' : ''}: exit 2 within seconds, one line, no stack trace`, async (t) => {
      const sshd = ssh ? await sshdOrSkip(t) : undefined;
      if (ssh && sshd === undefined) return;
      // A pass-through that stops after 16 MiB (the agent script, about 0.5 MiB, then part
      // of the data). Not head(1): it holds its last bytes in a stdio buffer.
      const cutter = join(dir.path, 'cut-after.cjs');
      await writeFile(cutter, [
        'let left = Number(process.argv[2]);',
        "process.stdin.on('data', (d) => {",
        '  const part = d.subarray(0, left);',
        '  left -= part.length;',
        '  process.stdout.write(part, () => { if (left === 0) process.exit(0); });',
        '  if (left === 0) process.stdin.pause();',
        '});',
        "process.stdin.on('end', () => process.exit(0));",
        '',
      ].join('\n'));
      const node = `'${process.execPath}'`;
      const cut = `${node} '${cutter}' 16777216`;
      const wrapper = join(dir.path, `node-${side}-cut.sh`);
      const script = side === 'stdin' ? `#!/bin/sh\n${cut} | ${node} "$@"\n` : `#!/bin/sh\n${node} "$@" | ${cut}\n`;
      await writeFile(wrapper, script);
      await chmod(wrapper, 0o755);
      const destination = join(dir.path, `closing-${side}-${ssh}.img`);
      await sparseImage(destination, SIZE);
      // stdin: the agent receives (PUSH); stdout: the agent sends (PULL).
      const [action, local, remote] = side === 'stdin' ? ['PUSH', source, destination] : ['PULL', destination, source];
      const hostArgs = sshd !== undefined ? ['-h', sshd.host, '-p', String(sshd.port)] : [];
      const started = Date.now();
      const r = await runBasyn(['-l', local, '-r', remote, '-a', action, '-m', 'COPY', '--zlevel', '0', '--remote-node', wrapper, ...hostArgs], {
        env: sshd?.env,
        timeoutMs: 30_000,
      });
      assert.ok(Date.now() - started < 20_000, 'took too long');
      assert.equal(r.code, 2, describeFinished(r));
      assert.doesNotMatch(r.stderr, /^ {4}at /m);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      assert.equal(lines.length, 1, r.stderr);
      t.diagnostic(lines[0]!);
      assert.match(lines[0]!, /^basyn: .*(connection to .* closed|ended inside a frame|refused the session).* after [0-9.]+ (B|KiB|MiB) of 96.0 MiB/, lines[0]);
    });
  }
}
