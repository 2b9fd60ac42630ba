/**
 * An --apply-delta run: every delta file is validated whole first (a truncated or
 * damaged one is refused before the device is even opened for writing), then the
 * device is opened, here or through the agent, and the deltas are verified and
 * applied (apply-delta.ts).
 */
import { InterruptedError } from '../errors.js';
import { loadDigest } from '../hash/hash-algorithms.js';
import { silentLog, silentProgress, type EngineContext } from '../engine/engine-context.js';
import type { Device } from '../device/device.js';
import { RemoteDevice } from '../device/remote-device.js';
import { openLocal, openRemote, needsAgent, startAgent } from './open-devices.js';
import type { RunHooks, RunResult, RunSettings } from './run-settings.js';
import type { AgentProcess } from '../transport/agent-process.js';
import { applyDeltas } from '../delta/apply-delta.js';
import { DeltaFile } from '../delta/delta-reader.js';
import { UndoRecorder } from '../delta/undo-recorder.js';
import { compressRequestOf } from '../options/compress-request.js';
import { fileCodecOf } from '../delta/file-codec.js';

export async function applyDeltaRun(settings: RunSettings, hooks: RunHooks): Promise<RunResult> {
  const signal = hooks.signal ?? new AbortController().signal;
  const log = hooks.log ?? silentLog;
  const progress = hooks.progress ?? silentProgress;
  const paths = settings.applyDelta!;
  const files: DeltaFile[] = [];
  let device: Device | undefined;
  let agent: AgentProcess | undefined;
  try {
    for (const path of paths) {
      files.push(await DeltaFile.open(path));
      signal.throwIfAborted();
    }
    const hash = files[0]!.hash;
    const unit = Math.max(...files.map((f) => f.header.unitSize));
    const opened: RunSettings = { ...settings, hash, bufferSize: unit, action: undefined };
    const digest = await loadDigest(hash);
    if (settings.remote !== undefined && needsAgent(settings, hooks)) {
      agent = await startAgent(opened, hooks, log);
      device = await openRemote(agent, opened, true, undefined, log);
    } else if (settings.remote !== undefined) {
      device = await openLocal(settings.remote, 'remote', opened, digest, true, undefined, log);
    } else {
      device = await openLocal(settings.local!, 'local', opened, digest, true, undefined, log);
    }
    for (const f of files) {
      if (f.interrupted) log.verbose(`delta ${f.path} is the undo file of a run that was stopped: it restores what that run overwrote`);
      log.verbose(`delta ${f.path}: ${f.entryCount} entries, ${f.dataBytes} bytes of data for a device of ${f.header.deviceSize} bytes, ${hash.name}, made ${new Date(f.header.created).toISOString()}`);
    }
    const ctx: EngineContext = { size: device.size, blockSize: unit, digest, signal, progress, log };
    const started = performance.now();
    const before = device instanceof RemoteDevice ? { ...device.traffic } : { rx: 0, tx: 0 };
    const undo = settings.undo !== undefined ? await UndoRecorder.start(settings.undo, device, { hash, unitSize: unit, codec: fileCodecOf(compressRequestOf(settings)) }, digest) : undefined;
    let counters;
    try {
      counters = await applyDeltas(files, undo?.device ?? device, ctx, { force: settings.force === true });
      signal.throwIfAborted();
    } catch (error) {
      await undo?.abandon();
      throw error;
    }
    const undone = await undo?.finish();
    const seconds = (performance.now() - started) / 1000;
    const status = await device.status();
    const after = device instanceof RemoteDevice ? device.traffic : { rx: 0, tx: counters.bytesWritten };
    const entries = files.reduce((n, f) => n + f.entryCount, 0);
    const result: RunResult = {
      size: device.size,
      localSize: settings.local !== undefined ? device.size : undefined,
      remoteSize: settings.remote !== undefined ? device.size : undefined,
      counters,
      traffic: { rx: after.rx - before.rx, tx: after.tx - before.tx },
      seconds,
      io: settings.local !== undefined ? { local: status.io } : { remote: status.io },
      codecs: device instanceof RemoteDevice ? device.codecUse : { sent: {}, received: {} },
      delta: {
        operation: 'apply',
        path: paths.join(' '),
        entries,
        dataBytes: files.reduce((n, f) => n + f.dataBytes, 0),
        fileSize: files.reduce((n, f) => n + f.fileSize, 0),
        skipped: entries - counters.writes,
      },
      undo: undone,
    };
    log.verbose(`applied: ${counters.writes} of ${entries} entries written, ${result.delta!.skipped} already in place`);
    return result;
  } catch (error) {
    if (signal.aborted) {
      const reason = signal.reason instanceof InterruptedError ? signal.reason.message : 'interrupted';
      throw new InterruptedError(`${reason}; the device may be partly written: run the same --apply-delta again to complete it`);
    }
    throw error;
  } finally {
    await Promise.allSettled([...files.map((f) => f.close()), device !== undefined ? device.close() : agent?.close()]);
  }
}

