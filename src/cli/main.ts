/**
 * The basyn command: argv to Options, signals to an AbortSignal, the run's result
 * to output lines (or one JSON document) and an exit code. All work happens in
 * api/run.ts.
 */
import { dryRunFailure, recheckFailure, run, type RunResult } from '../api/run.js';
import { InterruptedError, UsageError } from '../errors.js';
import { consoleLog } from '../report/console-log.js';
import { jsonReport } from '../report/json-report.js';
import { ProgressPrinter } from '../report/progress-printer.js';
import { formatStatLine } from '../report/stat-line.js';
import { VERSION } from '../version.js';
import { EXIT_OK, errorLine, exitCodeOf, oneLine } from './exit-codes.js';
import { helpText } from './help.js';
import { parseOptions, type Options } from './options.js';
import { refuseArgumentsNotUtf8 } from './raw-arguments.js';

export async function main(argv: readonly string[]): Promise<number> {
  let options: Options;
  try {
    refuseArgumentsNotUtf8(argv);
    options = parseOptions(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`basyn: ${oneLine(error.message)} (see basyn --help)\n`);
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
  const runOver = handleSignals(controller);
  // With --json, stdout carries the JSON document alone: verbose lines go to stderr.
  const log = consoleLog(options, options.json ? process.stderr : process.stdout);
  const differences: { offset: number; length: number }[] = [];
  let result: RunResult | undefined;
  let exitCode = EXIT_OK;
  let failure: unknown;
  try {
    result = await run(options, {
      signal: controller.signal,
      log,
      progress: options.progress ? new ProgressPrinter(process.stderr, undefined, options.json) : undefined,
      onAgentStderr: options.debug ? (line) => process.stderr.write(`remote: ${line}\n`) : undefined,
      onDifference: options.dryRun ? (offset, length) => differences.push({ offset, length }) : undefined,
    });
    // Chunks are compared concurrently: report them in offset order.
    differences.sort((a, b) => a.offset - b.offset);
    if (options.dryRun && !options.json) {
      for (const d of differences) process.stdout.write(`differs: offset ${d.offset} length ${d.length}\n`);
    }
    if (options.stat && !options.json) {
      process.stdout.write(`${formatStatLine({ size: result.size, rx: result.traffic.rx, tx: result.traffic.tx, seconds: result.seconds })}\n`);
    }
    if (options.debug) {
      const io = result.io;
      log.debug(`local device read ${io.local?.bytesRead ?? 0} bytes, wrote ${io.local?.bytesWritten ?? 0} bytes`);
      log.debug(`remote device read ${io.remote?.bytesRead ?? 0} bytes, wrote ${io.remote?.bytesWritten ?? 0} bytes`);
    }
    const failed = dryRunFailure(options, result) ?? recheckFailure(result.recheck);
    if (failed !== undefined) throw failed;
    if (options.dryRun) log.verbose('dry run: no block differs');
    if (result.recheck !== undefined) log.verbose(`recheck: all ${result.recheck.blocksCompared} blocks match`);
    if (options.action === undefined && !options.recheck) log.verbose('both devices can be opened');
  } catch (error) {
    failure = error;
    exitCode = exitCodeOf(error);
    process.stderr.write(`basyn: ${errorLine(error)}\n`);
    if (options.debug && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
  } finally {
    runOver(exitCode);
  }
  if (options.json) {
    const report = jsonReport(options, result, { exitCode, error: failure, differences });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  }
  return exitCode;
}

/**
 * SIGINT, SIGTERM and SIGHUP stop the run cleanly through the AbortSignal (writes in
 * flight are finished, the bitmap is flushed); a second signal quits at once. Once the
 * run is over, a signal (a second Ctrl-C while the process winds down) exits with the
 * run's code. The handlers stay installed to the end: removing the last listener
 * gives the signal back its default action, and one arriving then would kill the
 * process by the signal instead of exiting 2.
 */
function handleSignals(controller: AbortController): (code: number) => void {
  let count = 0;
  let finalCode: number | undefined;
  const onSignal = (name: NodeJS.Signals): void => {
    if (finalCode !== undefined) process.exit(finalCode);
    count++;
    if (count === 1) {
      process.stderr.write(`\nbasyn: ${name} received, stopping (send it again to quit at once)\n`);
      controller.abort(new InterruptedError(`interrupted by ${name}`));
    } else {
      process.stderr.write(`basyn: ${name} received again, quitting at once; the destination may be partly written\n`);
      process.exit(2);
    }
  };
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(name, () => onSignal(name));
  return (code) => {
    finalCode = code;
  };
}

export function cliMain(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      // Exit now rather than when the event loop has drained: a signal can only be
      // handled while Node's signal watchers exist, and they go away during the
      // final teardown. (stdout and stderr are synchronous for files, pipes and
      // terminals on Linux, so nothing printed is lost.)
      process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`basyn: ${errorLine(error)}\n`);
      process.exitCode = 2;
    },
  );
}
