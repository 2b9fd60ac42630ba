/**
 * Opening the devices of a run: a local one in this process, a remote one through an
 * agent (started over ssh, or as a local child process when something asks for a
 * separate process), and which agent pieces a run sends.
 */
import { compressRequestOf } from '../options/compress-request.js';
import { LocalDevice } from '../device/local-device.js';
import { RemoteDevice } from '../device/remote-device.js';
import type { EngineLog } from '../engine/engine-context.js';
import type { DigestFunction } from '../hash/hash-algorithms.js';
import type { PieceName } from '../pieces/agent-pieces.js';
import { zstdKind } from '../protocol/zstd.js';
import { quoteName, quoteText } from '../report/quote.js';
import { AgentProcess } from '../transport/agent-process.js';
import type { RunHooks, RunSettings } from './run-settings.js';

export async function openLocal(
  path: string,
  side: 'local' | 'remote',
  settings: RunSettings,
  digest: DigestFunction,
  writable: boolean,
  createSize: number | undefined,
  log: EngineLog,
): Promise<LocalDevice> {
  const device = await LocalDevice.open(path, { side, writable, hash: settings.hash, digest, createSize });
  log.verbose(`${side} device ${quoteName(path)}: ${device.size} bytes${device.isBlockDevice ? ' (block device)' : ''}${side === 'remote' ? ', opened by this process' : ''}`);
  return device;
}

/**
 * Without --host the remote device is on this machine too, and this process opens it
 * itself: no second process to start, no pipe to copy every block through, and the
 * two devices are compared byte for byte. An agent is still started where something
 * asks for a separate process: --sudo, --remote-node, or a test's agent environment.
 */
export function needsAgent(settings: RunSettings, hooks: RunHooks): boolean {
  return settings.host !== undefined || settings.sudo === true || settings.remoteNode !== undefined || hooks.agentEnv !== undefined;
}

export function startAgent(settings: RunSettings, hooks: RunHooks, log: EngineLog): Promise<AgentProcess> {
  const ssh = settings.host !== undefined ? { host: settings.host, port: settings.port, user: settings.user, rsh: settings.rsh } : undefined;
  log.verbose(ssh !== undefined ? `connecting to ${quoteName(settings.host!)} over ssh` : 'starting the agent on this machine');
  return AgentProcess.start({
    ssh, remoteNode: settings.remoteNode, sudo: settings.sudo, onStderrLine: hooks.onAgentStderr, env: hooks.agentEnv,
    onSkippedOutput: (description) => log.debug(description),
    pieces: piecesForRun(settings),
  });
}

/** The pieces the agent of this run needs: only what it will use is sent (and compiled). */
export function piecesForRun(settings: Pick<RunSettings, 'hash'> & Partial<Pick<RunSettings, 'compress' | 'zlevel' | 'action' | 'bitmap'>>): PieceName[] {
  const pieces: PieceName[] = [];
  // The agent loads the digest when it opens its device (a COPY's by default is SHA1: no piece).
  if (settings.hash.piece !== undefined) pieces.push(settings.hash.piece);
  if (agentMayNeedWasmZstd(settings)) pieces.push('zstd');
  return pieces;
}

/**
 * The zstd piece (about 190 KiB on the wire, compiled on the agent only if used) goes
 * where the agent's node may lack zstd and zstd may be used: always with
 * --compress=zstd; under auto only when this end has zstd (either kind) and writes to the
 * agent (PUSH, --apply-delta), and not for a bitmap run, whose few changed blocks do
 * not pay for the piece. Without the piece an agent on an older node offers no zstd in
 * its HELLO and blocks go as zlib: never wrong, only larger.
 */
function agentMayNeedWasmZstd(settings: Partial<Pick<RunSettings, 'compress' | 'zlevel' | 'action' | 'bitmap'>>): boolean {
  const { compress } = compressRequestOf(settings);
  if (compress === 'zstd') return true;
  return compress === 'auto' && zstdKind !== 'none' && settings.action !== 'PULL' && settings.bitmap === undefined;
}

export async function openRemote(agent: AgentProcess, settings: RunSettings, writable: boolean, createSize: number | undefined, log: EngineLog): Promise<RemoteDevice> {
  const where = settings.host !== undefined ? ` on host ${quoteName(settings.host)}` : '';
  const device = await RemoteDevice.connect(agent, {
    path: settings.remote!,
    writable,
    hash: settings.hash,
    compress: compressRequestOf(settings),
    rateLimit: settings.bwlimit,
    blockSize: settings.bufferSize,
    createSize,
    label: `remote device ${quoteName(settings.remote!)}${where}`,
  });
  log.verbose(`remote device ${quoteName(settings.remote!)}${where}: ${device.size} bytes${device.isBlockDevice ? ' (block device)' : ''}; agent ${device.software}`);
  // The agent's HELLO names its node: "basyn-agent 0.1.0 node v18.20.8".
  log.debug(`the agent${where} runs ${quoteText(device.software)}`);
  return device;
}
