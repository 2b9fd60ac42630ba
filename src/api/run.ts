/**
 * The composition root: opens the devices (starting the agent over ssh or as a
 * child process when one is needed; without --host the remote device is opened
 * here), checks their sizes, runs the action and the recheck, and closes
 * everything whatever happens. The CLI and the library functions are thin layers
 * over `run`.
 */
import { DeviceError, InterruptedError, SyncError, TransportError } from '../errors.js';
import type { Action } from '../options/options.js';
import { compressRequestOf } from '../options/compress-request.js';
import { BitmapFile } from '../bitmap/bitmap-file.js';
import { refuseFileThatIsADevice, type DeviceOnThisMachine } from '../bitmap/bitmap-is-not-a-device.js';
import type { Device } from '../device/device.js';
import { RemoteDevice } from '../device/remote-device.js';
import { bitmapSync } from '../engine/bitmap-sync.js';
import { checkedLater, overlapsLogin } from './bitmap-push-overlap.js';
import { EarlyDigestSource, syncOverlapsLogin } from './sync-push-overlap.js';
import { spotCheckBitmap } from '../engine/bitmap-spot-check.js';
import { copyDevices } from '../engine/copy.js';
import { silentLog, silentProgress, type EngineContext, type EngineLog, type ProgressListener } from '../engine/engine-context.js';
import { recheckDevices, type RecheckResult } from '../engine/recheck.js';
import { syncDevices } from '../engine/sync.js';
import { emptyCounters, type TransferCounters } from '../engine/transfer-counters.js';
import { describeDigestChoice } from '../hash/auto-hash.js';
import { loadDigest } from '../hash/hash-algorithms.js';
import { formatBytes } from '../report/units.js';
import { quoteName } from '../report/quote.js';
import { checkRelativePath, workingDirectoryIsGone } from '../util/working-directory.js';
import { applyDeltaRun } from './apply-delta-run.js';
import { writeDeltaRun } from './write-delta-run.js';
import { needsAgent, openLocal, openRemote, startAgent } from './open-devices.js';
import type { RunHooks, RunResult, RunSettings } from './run-settings.js';
import { UndoRecorder } from '../delta/undo-recorder.js';
import { PipeSource } from '../delta/pipe-source.js';
import { fileCodecOf } from '../delta/file-codec.js';
import { COMMAND_LINE } from '../options/option-spelling.js';

export type { RunSettings, RunHooks, RunResult } from './run-settings.js';

export async function run(settings: RunSettings, hooks: RunHooks = {}): Promise<RunResult> {
  if (settings.applyDelta !== undefined) return applyDeltaRun(settings, hooks);
  const signal = hooks.signal ?? new AbortController().signal;
  const log = hooks.log ?? silentLog;
  const progress = new TrackedProgress(hooks.progress ?? silentProgress);
  const action = settings.action;
  const opened: { local?: Device; remote?: Device } = {};
  checkRelativePaths(settings);
  if (log.debugEnabled) log.debug(describeDigestChoice(settings.hash, settings.hashAuto === true, settings));
  const spelling = hooks.spelling ?? COMMAND_LINE;
  if (settings.bitmap !== undefined) await refuseFileThatIsADevice(settings.bitmap, devicesOnThisMachine(settings), spelling.name('bitmap'), 'the bitmap');
  if (settings.writeDelta !== undefined && settings.writeDelta !== '-') {
    await refuseFileThatIsADevice(settings.writeDelta, devicesOnThisMachine(settings), spelling.name('writeDelta'), 'the delta');
  }
  // The agent (and ssh) start first: their start-up overlaps everything below.
  const agent = settings.remote !== undefined && needsAgent(settings, hooks) ? await startAgent(settings, hooks, log) : undefined;
  // A bitmap PUSH scans its source while ssh logs in; the destination is checked later.
  const overlap = await overlapsLogin(settings, agent !== undefined);
  let destinationLater: Promise<Device> | undefined;
  try {
    const digest = await loadDigest(settings.hash);
    // The source opens first, so that --create knows the size the destination needs.
    const order: ('local' | 'remote')[] = action === 'PULL' ? ['remote', 'local'] : ['local', 'remote'];
    for (const side of order) {
      const sourceSize = action === 'PULL' ? opened.remote?.size : opened.local?.size;
      const isDestination = (side === 'remote') === (action === 'PUSH');
      const createSize = settings.create === true && isDestination ? sourceSize : undefined;
      if (side === 'local' && settings.local === '-') {
        opened.local = new PipeSource(settings.size!, digest);
      } else if (side === 'local' && settings.local !== undefined) {
        opened.local = await openLocal(settings.local, 'local', settings, digest, action === 'PULL' && settings.dryRun !== true && settings.writeDelta === undefined, createSize, log);
      }
      // A plain PUSH SYNC hashes its source while ssh logs in (sync-push-overlap.ts).
      if (side === 'local' && opened.local !== undefined && opened.local.size > 0 && syncOverlapsLogin(settings, agent !== undefined)) {
        log.verbose('reading and hashing the source while the agent starts; nothing is written before the destination is open and its size checked');
        opened.local = new EarlyDigestSource(opened.local, settings.bufferSize, { threads: workingDirectoryIsGone() ? 1 : 64 }, (hashed, blocks) =>
          log.verbose(`source hashed before the destination was open: ${hashed} of ${blocks} blocks`));
      }
      if (side === 'remote' && settings.remote !== undefined) {
        const writable = action === 'PUSH' && settings.dryRun !== true && settings.writeDelta === undefined;
        if (overlap) {
          destinationLater = openRemote(agent!, settings, writable, createSize, log).then((d) => (opened.remote = d));
          // Awaited by the scan; a run that fails before it must not leave it unhandled.
          destinationLater.catch(() => undefined);
        }
        else {
          opened.remote = agent !== undefined
            ? await openRemote(agent, settings, writable, createSize, log)
            : await openLocal(settings.remote, 'remote', settings, digest, writable, createSize, log);
        }
      }
      // An empty source is refused before the destination is opened, let alone created.
      const device = opened[side];
      if (action !== undefined && !isDestination && device?.size === 0) throw emptyDeviceError(device);
    }
    const { local } = opened;
    let { remote } = opened;
    // With the destination still opening (overlap), the source's size is the run's; checked later.
    const size = checkSizes(action, local, remote);
    signal.throwIfAborted();
    const ctx: EngineContext = {
      size, blockSize: settings.bufferSize, chunkSize: settings.chunkSize, digest, hash: settings.hash, signal, progress, log,
      // "As many as there are cores": each side caps it at its own core count.
      // Worker threads cannot start without a working directory: hash on this one then.
      hashThreads: workingDirectoryIsGone() ? 1 : 64,
      dryRun: settings.dryRun === true,
      onDifference: hooks.onDifference,
    };
    const result: RunResult = {
      size, localSize: local?.size, remoteSize: remote?.size, counters: emptyCounters(),
      traffic: { rx: 0, tx: 0 }, seconds: 0, io: {}, codecs: { sent: {}, received: {} },
    };
    const started = performance.now();
    const trafficBefore = trafficOf(remote);
    if (action !== undefined) {
      const [source, written] = action === 'PUSH' ? [local, remote] : [remote, local];
      // --undo (src/delta/): the old contents of each block are saved before it is overwritten.
      // (A run with --undo never overlaps the login: its destination is open here.)
      const undo = settings.undo !== undefined && written !== undefined
        ? await UndoRecorder.start(settings.undo, written, { hash: settings.hash, unitSize: settings.bufferSize, codec: fileCodecOf(compressRequestOf(settings)) }, digest)
        : undefined;
      const destination = undo?.device ?? written;
      try {
        if (settings.writeDelta !== undefined) {
          const made = await withProgressContext(progress, () => writeDeltaRun(settings, source!, destination, ctx, log));
          result.counters = made.counters;
          result.delta = made.delta;
        } else if (settings.bitmap !== undefined) {
          const later = destinationLater !== undefined ? { opening: destinationLater, check: (d: Device) => checkSizes(action, local, d) } : undefined;
          result.counters = await withProgressContext(progress, () => syncWithBitmap(settings, source!, destination, ctx, log, result, later));
          remote = opened.remote;
        } else {
          log.verbose(`${action} ${settings.mode}${ctx.dryRun ? ' (dry run)' : ''} of ${size} bytes from ${source!.label} to ${destination!.label}, blocks of ${settings.bufferSize} bytes`);
          result.counters = await withProgressContext(progress, () =>
            settings.mode === 'COPY' ? copyDevices(source!, destination!, ctx) : syncDevices(source!, destination!, ctx),
          );
        }
        if (undo !== undefined) result.undo = await undo.finish();
      } catch (error) {
        await undo?.abandon();
        throw error;
      }
      const c = result.counters;
      log.verbose(`${action} ${settings.mode} finished: ${c.blocksDiffering} of ${c.blocksCompared || c.blocksDiffering} blocks differ, ${c.bytesWritten} bytes ${ctx.dryRun ? 'would be ' : ''}sent`);
    } else if (settings.recheck && local !== undefined && remote !== undefined) {
      const other = remote;
      result.recheck = await withProgressContext(progress, () => recheckDevices(local, other, ctx));
    }
    // A signal that came while the last blocks were written or flushed still stops the
    // run: an interrupted run never reports success (and a recheck is not started).
    signal.throwIfAborted();
    result.seconds = (performance.now() - started) / 1000;
    await checkSizesUnchanged([local, remote]);
    const trafficAfter = trafficOf(remote);
    result.traffic = { rx: trafficAfter.rx - trafficBefore.rx, tx: trafficAfter.tx - trafficBefore.tx };
    if (remote instanceof RemoteDevice) {
      result.codecs = remote.codecUse;
      log.debug(`codecs on the wire: sent ${JSON.stringify(result.codecs.sent)}, received ${JSON.stringify(result.codecs.received)}`);
    }
    if (settings.recheck && action !== undefined && local !== undefined && remote !== undefined) {
      log.verbose('rechecking both devices');
      result.recheck = await withProgressContext(progress, () => recheckDevices(local, remote, ctx));
    }
    signal.throwIfAborted();
    const [localStatus, remoteStatus] = await Promise.all([local?.status(), remote?.status()]);
    result.io = { local: localStatus?.io, remote: remoteStatus?.io };
    if (agent === undefined && action !== undefined) {
      // Nothing crossed a link: the bytes written to the destination (opened for this
      // run, so its count is the run's) stand for the traffic. Zero blocks skipped by
      // --create and a dry run's would-be writes are not written, so they don't count.
      const written = (action === 'PUSH' ? result.io.remote : result.io.local)?.bytesWritten ?? 0;
      result.traffic = action === 'PUSH' ? { rx: 0, tx: written } : { rx: written, tx: 0 };
    }
    return result;
  } catch (error) {
    if (signal.aborted) {
      const reason = signal.reason instanceof InterruptedError ? signal.reason.message : 'interrupted';
      const writes = action !== undefined && settings.dryRun !== true && settings.writeDelta === undefined;
      throw new InterruptedError(`${reason}${progress.describe()}${writes ? '; the destination may be partly written' : ''}`);
    }
    throw error;
  } finally {
    // An agent that never got its device (an earlier failure) is closed here too.
    await Promise.allSettled([opened.local?.close(), opened.remote !== undefined ? opened.remote.close() : agent?.close()]);
  }
}

/** The devices this process can stat: the local one, and the remote one without --host. */
function devicesOnThisMachine(settings: RunSettings): DeviceOnThisMachine[] {
  const devices: DeviceOnThisMachine[] = [];
  if (settings.local !== undefined && settings.local !== '-') devices.push({ side: 'local', path: settings.local });
  if (settings.remote !== undefined && settings.host === undefined) devices.push({ side: 'remote', path: settings.remote });
  return devices;
}

/** Paths this machine resolves (over ssh the remote path is the remote side's). */
function checkRelativePaths(settings: RunSettings): void {
  if (settings.local !== undefined && settings.local !== '-') checkRelativePath(settings.local, 'local device', { side: 'local', device: settings.local });
  if (settings.remote !== undefined && settings.host === undefined) {
    checkRelativePath(settings.remote, 'remote device', { side: 'remote', device: settings.remote });
  }
  if (settings.bitmap !== undefined) checkRelativePath(settings.bitmap, 'bitmap', {});
}

function trafficOf(device: Device | undefined): { rx: number; tx: number } {
  return device instanceof RemoteDevice ? device.traffic : { rx: 0, tx: 0 };
}

async function syncWithBitmap(
  settings: RunSettings,
  source: Device,
  destination: Device | undefined,
  ctx: EngineContext,
  log: EngineLog,
  result: RunResult,
  later?: { opening: Promise<Device>; check(destination: Device): void },
): Promise<TransferCounters> {
  const unit = settings.chunkSize ?? settings.bufferSize;
  const bitmap = await BitmapFile.open(
    settings.bitmap!,
    { deviceSize: ctx.size, blockSize: unit, hash: settings.hash },
    { reset: settings.resetBitmap === true, readOnly: ctx.dryRun },
  );
  try {
    log.verbose(`bitmap ${quoteName(bitmap.path)}: ${bitmap.entries} entries of ${unit} bytes${bitmap.fresh ? ', new (every block will be sent)' : ''}`);
    const spotCheck = async (d: Device): Promise<void> => {
      if (bitmap.fresh || settings.updateBitmap === true || settings.bitmapCheck === false) return;
      result.bitmapSpotChecks = await spotCheckBitmap(bitmap, d, ctx.size);
      log.verbose(`bitmap spot check: ${result.bitmapSpotChecks} destination blocks match their entries`);
    };
    const checkedDestination = later !== undefined
      ? checkedLater(later.opening, async (d) => {
        later.check(d);
        await spotCheck(d);
      })
      : destination;
    if (later !== undefined) log.verbose('reading and hashing the source while the agent starts; the destination is checked before anything is written');
    else if (destination !== undefined) await spotCheck(destination);
    const mode = settings.updateBitmap === true ? 'update' : 'bitmap';
    const to = later !== undefined ? ` to ${quoteName(settings.remote!)}` : destination !== undefined ? ` to ${destination.label}` : ' (no destination: bitmap only)';
    log.verbose(`${settings.action} SYNC with bitmap${mode === 'update' ? ' update' : ''}${ctx.dryRun ? ' (dry run)' : ''} from ${source.label}${to}`);
    return await bitmapSync(source, checkedDestination, bitmap, { ...ctx, blockSize: unit, chunkSize: undefined }, mode);
  } finally {
    await bitmap.close();
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

/** A dry run's outcome as an error (exit 2 as for --recheck), or nothing when identical. */
export function dryRunFailure(settings: RunSettings, result: RunResult): SyncError | undefined {
  const c = result.counters;
  if (settings.dryRun !== true || c.blocksDiffering === 0) return undefined;
  return new SyncError(`dry run: ${c.blocksDiffering} of ${c.blocksCompared} blocks differ; a real run would send ${c.bytesWritten} bytes of data`, {
    operation: 'dry run',
  });
}

/** A device that grew, shrank or vanished during the run makes its result meaningless. */
async function checkSizesUnchanged(devices: (Device | undefined)[]): Promise<void> {
  for (const d of devices) {
    if (d === undefined) continue;
    const { size: now } = await d.status();
    if (now !== d.size) {
      throw new DeviceError(`${d.label} changed size during the run, from ${d.size} to ${now} bytes; run again`, {
        side: d.side, device: d.path, operation: 'size check',
      });
    }
  }
}

function emptyDeviceError(d: Device): DeviceError {
  return new DeviceError(`${d.label} is empty (0 bytes); there is nothing to sync`, { side: d.side, device: d.path });
}

function checkSizes(action: Action | undefined, local: Device | undefined, remote: Device | undefined): number {
  for (const d of [local, remote]) {
    if (d !== undefined && d.size === 0) throw emptyDeviceError(d);
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
