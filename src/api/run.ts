/**
 * The composition root: opens the devices (starting the agent over ssh or as a
 * child process), checks their sizes, runs the action and the recheck, and closes
 * everything whatever happens. The CLI is a thin layer over this.
 */
import { DeviceError, InterruptedError, SyncError, TransportError } from '../errors.js';
import type { Action, Mode } from '../cli/options.js';
import type { Device, IoCounters } from '../device/device.js';
import { LocalDevice } from '../device/local-device.js';
import { RemoteDevice } from '../device/remote-device.js';
import { copyDevices } from '../engine/copy.js';
import { silentLog, silentProgress, type EngineContext, type EngineLog, type ProgressListener } from '../engine/engine-context.js';
import { recheckDevices, type RecheckResult } from '../engine/recheck.js';
import { syncDevices } from '../engine/sync.js';
import { emptyCounters, type TransferCounters } from '../engine/transfer-counters.js';
import { loadDigest, type HashAlgorithm } from '../hash/hash-algorithms.js';
import { AgentProcess } from '../transport/agent-process.js';
import { BitmapFile } from '../bitmap/bitmap-file.js';
import { bitmapSync } from '../engine/bitmap-sync.js';
import { spotCheckBitmap } from '../engine/bitmap-spot-check.js';
import { formatBytes } from '../report/units.js';

export interface RunSettings {
  local?: string;
  remote?: string;
  host?: string;
  port?: number;
  user?: string;
  action?: Action;
  mode?: Mode;
  recheck: boolean;
  hash: HashAlgorithm;
  bufferSize: number;
  chunkSize?: number;
  zlevel: number;
  bitmap?: string;
  resetBitmap?: boolean;
  updateBitmap?: boolean;
  /** Spot-check the bitmap against the destination before trusting it (default true). */
  bitmapCheck?: boolean;
}

export interface RunHooks {
  progress?: ProgressListener;
  log?: EngineLog;
  signal?: AbortSignal;
  /** Each stderr line of the agent (or of ssh). */
  onAgentStderr?: (line: string) => void;
  /** Extra environment for an agent started on this machine (tests). */
  agentEnv?: NodeJS.ProcessEnv;
}

export interface RunResult {
  /** Bytes compared or copied: the smaller device size. */
  size: number;
  localSize?: number;
  remoteSize?: number;
  counters: TransferCounters;
  recheck?: RecheckResult;
  /** Destination blocks read to check the bitmap belongs to the destination. */
  bitmapSpotChecks?: number;
  /** Bytes received from and sent to the agent during the action (or the recheck alone). */
  traffic: { rx: number; tx: number };
  /** Seconds the action (or the recheck alone) took. */
  seconds: number;
  io: { local?: IoCounters; remote?: IoCounters };
}

export async function run(settings: RunSettings, hooks: RunHooks = {}): Promise<RunResult> {
  const signal = hooks.signal ?? new AbortController().signal;
  const log = hooks.log ?? silentLog;
  const progress = new TrackedProgress(hooks.progress ?? silentProgress);
  const digest = await loadDigest(settings.hash);
  const action = settings.action;
  let local: LocalDevice | undefined;
  let remote: RemoteDevice | undefined;
  try {
    if (settings.local !== undefined) {
      local = await LocalDevice.open(settings.local, { writable: action === 'PULL', hash: settings.hash, digest });
      log.verbose(`local device ${settings.local}: ${local.size} bytes${local.isBlockDevice ? ' (block device)' : ''}`);
    }
    if (settings.remote !== undefined) {
      const ssh = settings.host !== undefined ? { host: settings.host, port: settings.port, user: settings.user } : undefined;
      log.verbose(ssh !== undefined ? `connecting to ${settings.host} over ssh` : 'starting the agent on this machine');
      const agent = AgentProcess.start({ ssh, onStderrLine: hooks.onAgentStderr, env: hooks.agentEnv });
      const where = settings.host !== undefined ? ` on host ${settings.host}` : '';
      remote = await RemoteDevice.connect(agent, {
        path: settings.remote,
        writable: action === 'PUSH',
        hash: settings.hash,
        zlevel: settings.zlevel,
        blockSize: settings.bufferSize,
        label: `remote device ${settings.remote}${where}`,
      });
      log.verbose(`remote device ${settings.remote}${where}: ${remote.size} bytes${remote.isBlockDevice ? ' (block device)' : ''}; agent ${remote.software}`);
    }
    const size = checkSizes(action, local, remote);
    const ctx: EngineContext = {
      size, blockSize: settings.bufferSize, chunkSize: settings.chunkSize, digest, signal, progress, log,
      // "As many as there are cores": each side caps it at its own core count.
      hashThreads: 64,
    };
    const result: RunResult = {
      size, localSize: local?.size, remoteSize: remote?.size, counters: emptyCounters(),
      traffic: { rx: 0, tx: 0 }, seconds: 0, io: {},
    };
    const started = performance.now();
    const trafficBefore = remote?.traffic ?? { rx: 0, tx: 0 };
    if (action !== undefined && settings.bitmap !== undefined) {
      const [source, destination] = action === 'PUSH' ? [local!, remote] : [remote!, local];
      result.counters = await withProgressContext(progress, () =>
        syncWithBitmap(settings, source, destination, ctx, log, result),
      );
    } else if (action !== undefined && local !== undefined && remote !== undefined) {
      const [source, destination] = action === 'PUSH' ? [local, remote] : [remote, local];
      log.verbose(`${action} ${settings.mode} of ${size} bytes from ${source.label} to ${destination.label}, blocks of ${settings.bufferSize} bytes`);
      result.counters = await withProgressContext(progress, () =>
        settings.mode === 'COPY' ? copyDevices(source, destination, ctx) : syncDevices(source, destination, ctx),
      );
      log.verbose(`${action} ${settings.mode} finished: ${result.counters.blocksDiffering} of ${result.counters.blocksCompared || result.counters.blocksDiffering} blocks sent`);
    } else if (settings.recheck && local !== undefined && remote !== undefined) {
      result.recheck = await withProgressContext(progress, () => recheckDevices(local!, remote!, ctx));
    }
    result.seconds = (performance.now() - started) / 1000;
    const trafficAfter = remote?.traffic ?? { rx: 0, tx: 0 };
    result.traffic = { rx: trafficAfter.rx - trafficBefore.rx, tx: trafficAfter.tx - trafficBefore.tx };
    if (settings.recheck && action !== undefined && local !== undefined && remote !== undefined) {
      log.verbose('rechecking both devices');
      result.recheck = await withProgressContext(progress, () => recheckDevices(local!, remote!, ctx));
    }
    result.io = { local: await local?.counters(), remote: await remote?.counters() };
    return result;
  } catch (error) {
    if (signal.aborted) {
      const reason = signal.reason instanceof InterruptedError ? signal.reason.message : 'interrupted';
      throw new InterruptedError(`${reason}${progress.describe()}; the destination may be partly written`);
    }
    throw error;
  } finally {
    await Promise.allSettled([local?.close(), remote?.close()]);
  }
}

/** Recheck outcome as an error, or nothing when the devices match. */
export function recheckFailure(r: RecheckResult | undefined): SyncError | undefined {
  if (r === undefined || r.blocksDiffering === 0) return undefined;
  return new SyncError(
    `recheck failed: ${r.blocksDiffering} of ${r.blocksCompared} blocks differ, the first at offset ${r.firstDifference}`,
    { offset: r.firstDifference, operation: 'recheck' },
  );
}

async function syncWithBitmap(
  settings: RunSettings,
  source: Device,
  destination: Device | undefined,
  ctx: EngineContext,
  log: EngineLog,
  result: RunResult,
): Promise<TransferCounters> {
  const unit = settings.chunkSize ?? settings.bufferSize;
  const bitmap = await BitmapFile.open(settings.bitmap!, { deviceSize: ctx.size, blockSize: unit, hash: settings.hash }, { reset: settings.resetBitmap === true });
  try {
    log.verbose(`bitmap ${bitmap.path}: ${bitmap.entries} entries of ${unit} bytes${bitmap.fresh ? ', new (every block will be sent)' : ''}`);
    if (destination !== undefined && !bitmap.fresh && settings.updateBitmap !== true && settings.bitmapCheck !== false) {
      result.bitmapSpotChecks = await spotCheckBitmap(bitmap, destination, ctx.size);
      log.verbose(`bitmap spot check: ${result.bitmapSpotChecks} destination blocks match their entries`);
    }
    const mode = settings.updateBitmap === true ? 'update' : 'bitmap';
    log.verbose(`${settings.action} SYNC with bitmap${mode === 'update' ? ' update' : ''} from ${source.label}${destination !== undefined ? ` to ${destination.label}` : ' (no destination: bitmap only)'}`);
    return await bitmapSync(source, destination, bitmap, { ...ctx, blockSize: unit, chunkSize: undefined }, mode);
  } finally {
    await bitmap.close();
  }
}

function checkSizes(action: Action | undefined, local: Device | undefined, remote: Device | undefined): number {
  for (const d of [local, remote]) {
    if (d !== undefined && d.size === 0) {
      throw new DeviceError(`${d.label} is empty (0 bytes); there is nothing to sync`, { side: d.side, device: d.path });
    }
  }
  if (local === undefined || remote === undefined) return (local ?? remote)!.size;
  if (action === 'PUSH' && remote.size < local.size) {
    throw new SyncError(`cannot PUSH: ${remote.label} (${remote.size} bytes) is smaller than ${local.label} (${local.size} bytes)`);
  }
  if (action === 'PULL' && local.size < remote.size) {
    throw new SyncError(`cannot PULL: ${local.label} (${local.size} bytes) is smaller than ${remote.label} (${remote.size} bytes)`);
  }
  return Math.min(local.size, remote.size);
}

/** Remembers how far the current phase got, to say where a lost connection left things. */
class TrackedProgress implements ProgressListener {
  private phase = '';
  private total = 0;
  private done = 0;
  constructor(private readonly inner: ProgressListener) {}
  start(phase: string, total: number): void {
    this.phase = phase;
    this.total = total;
    this.done = 0;
    this.inner.start(phase, total);
  }
  update(done: number): void {
    this.done = done;
    this.inner.update(done);
  }
  end(): void {
    this.inner.end();
  }
  describe(): string {
    return this.phase === '' ? '' : ` during ${this.phase} after ${formatBytes(this.done)} of ${formatBytes(this.total)}`;
  }
}

async function withProgressContext<T>(progress: TrackedProgress, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TransportError && !error.message.includes(' during ')) {
      error.message = error.message.replace(/^(connection to .*? closed)/, `$1${progress.describe()}`);
    }
    throw error;
  } finally {
    progress.end();
  }
}
