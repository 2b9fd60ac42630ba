/**
 * The basyn command: argv to Options, signals to an AbortSignal, the run's result
 * to output lines and an exit code. All work happens in api/run.ts.
 */
import { recheckFailure, run } from '../api/run.js';
import { InterruptedError, UsageError } from '../errors.js';
import { consoleLog } from '../report/console-log.js';
import { ProgressPrinter } from '../report/progress-printer.js';
import { formatStatLine } from '../report/stat-line.js';
import { VERSION } from '../version.js';
import { EXIT_OK, errorLine, exitCodeOf } from './exit-codes.js';
import { helpText } from './help.js';
import { parseOptions, type Options } from './options.js';

export async function main(argv: readonly string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`basyn: ${error.message} (see basyn --help)\n`);
      return error.exitCode;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(helpText());
    return EXIT_OK;
  }
  if (options.version) {
    process.stdout.write(`basyn ${VERSION}\n`);
    return EXIT_OK;
  }

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\nbasyn: ${name} received, stopping (send it again to quit at once)\n`);
      controller.abort(new InterruptedError(`interrupted by ${name}`));
    } else {
      process.stderr.write(`basyn: ${name} received again, quitting at once; the destination may be partly written\n`);
      process.exit(2);
    }
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((name) => {
    const h = (): void => onSignal(name);
    process.on(name, h);
    return [name, h] as const;
  });

  const log = consoleLog(options);
  try {
    const result = await run(options, {
      signal: controller.signal,
      log,
      progress: options.progress ? new ProgressPrinter(process.stderr) : undefined,
      onAgentStderr: options.debug ? (line) => process.stderr.write(`remote: ${line}\n`) : undefined,
    });
    if (options.stat) {
      process.stdout.write(`${formatStatLine({ size: result.size, rx: result.traffic.rx, tx: result.traffic.tx, seconds: result.seconds })}\n`);
    }
    if (options.debug) {
      const io = result.io;
      log.debug(`local device read ${io.local?.bytesRead ?? 0} bytes, wrote ${io.local?.bytesWritten ?? 0} bytes`);
      log.debug(`remote device read ${io.remote?.bytesRead ?? 0} bytes, wrote ${io.remote?.bytesWritten ?? 0} bytes`);
    }
    const failed = recheckFailure(result.recheck);
    if (failed !== undefined) throw failed;
    if (result.recheck !== undefined) log.verbose(`recheck: all ${result.recheck.blocksCompared} blocks match`);
    if (options.action === undefined && !options.recheck) log.verbose('both devices can be opened');
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(`basyn: ${errorLine(error)}\n`);
    if (options.debug && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
    return exitCodeOf(error);
  } finally {
    for (const [name, h] of handlers) process.off(name, h);
  }
}

export function cliMain(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`basyn: ${errorLine(error)}\n`);
      process.exitCode = 2;
    },
  );
}
