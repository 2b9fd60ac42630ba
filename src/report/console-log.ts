/**
 * --verbose lines (timestamped, stdout) and --debug lines (stderr), as the engine's log.
 * Names in the messages are quoted where they are built; a message is still kept to
 * one line here, whatever reached it.
 */
import type { EngineLog } from '../engine/engine-context.js';
import { oneLine } from './quote.js';

export function timestamp(d = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Where a line goes: the command passes outputs that never throw (report/safe-output.ts). */
export interface TextSink {
  write(text: string): unknown;
}

export function consoleLog(options: { verbose: boolean; debug: boolean }, out: TextSink = process.stdout, err: TextSink = process.stderr): EngineLog {
  return {
    verbose: options.verbose ? (message) => out.write(`${timestamp()}: ${oneLine(message)}\n`) : () => undefined,
    debug: options.debug ? (message) => err.write(`debug: ${oneLine(message)}\n`) : () => undefined,
    debugEnabled: options.debug,
  };
}
