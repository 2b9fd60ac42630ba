/**
 * The basyn command: argv to Options, signals to an AbortSignal, the run's result
 * to output lines (or one JSON document) and an exit code. All work happens in
 * api/run.ts.
 */
import { dryRunFailure, recheckFailure, run, type RunResult } from '../api/run.js';
import { DeviceError, InterruptedError, UsageError } from '../errors.js';
import { bitmapOnlyNotice } from '../report/bitmap-only-notice.js';
import { consoleLog } from '../report/console-log.js';
import { jsonReport } from '../report/json-report.js';
import { ProgressPrinter } from '../report/progress-printer.js';
import { quoteText } from '../report/quote.js';
import { SafeOutput, describeOutputFailure } from '../report/safe-output.js';
import { formatDeltaStatLine, formatStatLine } from '../report/stat-line.js';
import { VERSION } from '../version.js';
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, errorLine, exitCodeOf, oneLine } from './exit-codes.js';
import { helpText } from './help.js';
import { bashCompletion } from './bash-completion.js';
import { parseOptions } from './command-line.js';
import type { Options } from '../options/options.js';
import { refuseArgumentsNotUtf8 } from './raw-arguments.js';
import { keepYoungGenerationSmall } from '../util/young-generation.js';

export async function main(argv: readonly string[]): Promise<number> {
  // Every byte the command prints goes through these two, so an output that cannot be
  // written is never an uncaught exception; `delivered` turns it into the exit code.
  const stdout = new SafeOutput(process.stdout, 'standard output');
  const stderr = new SafeOutput(process.stderr, 'standard error');
  let options: Options;
  try {
    refuseArgumentsNotUtf8(argv);
    options = parseOptions(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      stderr.write(`basyn: ${oneLine(error.message)} (see basyn --help)\n`);
      return delivered(error.exitCode, stdout, stderr);
    }
    throw error;
  }
  if (options.help) {
    stdout.write(helpText());
    return delivered(EXIT_OK, stdout, stderr);
  }
  if (options.completion !== undefined) {
    stdout.write(bashCompletion());
    return delivered(EXIT_OK, stdout, stderr);
  }
  if (options.version) {
    stdout.write(`basyn ${VERSION} node ${process.version}\n`);
    return delivered(EXIT_OK, stdout, stderr);
  }

  const controller = new AbortController();
  const runOver = handleSignals(controller, stderr);
  // A delta written to standard output owns it: every report goes to stderr then.
  const out = options.writeDelta === '-' ? stderr : stdout;
  // With --json, stdout carries the JSON document alone: verbose lines go to stderr.
  const log = consoleLog(options, options.json ? stderr : out, stderr);
  log.debug(`this end runs basyn ${VERSION} on node ${process.version}`);
  const differences: { offset: number; length: number }[] = [];
  let result: RunResult | undefined;
  let exitCode = EXIT_OK;
  let failure: unknown;
  try {
    result = await run(options, {
      signal: controller.signal,
      log,
      progress: options.progress ? new ProgressPrinter(stderr, undefined, options.json) : undefined,
      onAgentStderr: options.debug ? (line) => stderr.write(`remote: ${quoteText(line)}\n`) : undefined,
      onDifference: options.dryRun ? (offset, length) => differences.push({ offset, length }) : undefined,
    });
    const notice = bitmapOnlyNotice(options);
    if (notice !== undefined) stderr.write(`basyn: ${oneLine(notice)}\n`);
    // Chunks are compared concurrently: report them in offset order.
    differences.sort((a, b) => a.offset - b.offset);
    if (options.dryRun && !options.json) {
      for (const d of differences) out.write(`differs: offset ${d.offset} length ${d.length}\n`);
    }
    if (options.stat && !options.json) {
      out.write(`${formatStatLine({ size: result.size, rx: result.traffic.rx, tx: result.traffic.tx, seconds: result.seconds })}\n`);
      if (result.delta !== undefined) out.write(`${formatDeltaStatLine(result.delta)}\n`);
      if (result.undo !== undefined) out.write(`UNDO. Saved: ${result.undo.entries} entries, data ${result.undo.dataBytes}B, file ${result.undo.fileSize}B.\n`);
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
    if (options.action === undefined && !options.recheck && options.applyDelta === undefined) log.verbose('both devices can be opened');
  } catch (error) {
    failure = error;
    exitCode = exitCodeOf(error);
    stderr.write(`basyn: ${errorLine(error)}\n`);
    if (options.debug && error instanceof Error && error.stack !== undefined) stderr.write(`${error.stack}\n`);
  } finally {
    runOver(exitCode);
  }
  if (options.json) {
    const report = jsonReport(options, result, { exitCode, error: failure, differences });
    out.write(`${JSON.stringify(report, null, 2)}\n`);
  }
  // A delta on stdout that could not be written is the run's error line already.
  const said = options.writeDelta === '-' && failure instanceof DeviceError && failure.context.operation === 'write delta';
  const code = await delivered(exitCode, stdout, stderr, true, said);
  runOver(code);
  return code;
}

/**
 * The exit code once the output is known to be written or lost. Standard output
 * carries what the user asked to see (the JSON document, the --stat line, a dry run's
 * list, --verbose lines, --help): when it is lost, a run that would exit 0 exits 2,
 * and says so on stderr. Standard error carries diagnostics (progress, --debug, the
 * error line), which the exit code already sums up: losing it changes nothing. A
 * usage error stays 1 whatever happened to its message.
 */
async function delivered(code: number, stdout: SafeOutput, stderr: SafeOutput, ran = false, said = false): Promise<number> {
  await stdout.settled();
  const lost = stdout.failure;
  if (lost === undefined || code === EXIT_USAGE || (said && code !== EXIT_OK)) {
    await stderr.settled();
    return code;
  }
  const outcome = ran && code === EXIT_OK ? '; the run itself succeeded' : '';
  stderr.write(`basyn: cannot write to ${stdout.name}: ${describeOutputFailure(lost)}; the output is incomplete${outcome}\n`);
  await stderr.settled();
  return EXIT_RUNTIME;
}

/** How long the first signal waits for the run to stop cleanly before basyn quits anyway. */
const STOP_GRACE_MS = 10_000;

/**
 * SIGINT, SIGTERM and SIGHUP stop the run cleanly through the AbortSignal (writes in
 * flight are finished, the bitmap is flushed), within STOP_GRACE_MS; a second signal
 * quits at once. Once the run is over, a signal (a second Ctrl-C while the process
 * winds down) exits with the run's code. The handlers stay installed to the end: removing the last listener
 * gives the signal back its default action, and one arriving then would kill the
 * process by the signal instead of exiting 2.
 */
function handleSignals(controller: AbortController, stderr: SafeOutput): (code: number) => void {
  let count = 0;
  let finalCode: number | undefined;
  const onSignal = (name: NodeJS.Signals): void => {
    if (finalCode !== undefined) process.exit(finalCode);
    count++;
    if (count === 1) {
      stderr.write(`\nbasyn: ${name} received, stopping (send it again to quit at once)\n`);
      controller.abort(new InterruptedError(`interrupted by ${name}`));
      // A clean stop waits for writes in flight; an agent that does not answer (stopped,
      // thrashing) would make it wait for ever. Its processes are killed on the way out.
      setTimeout(() => {
        stderr.write(`basyn: the run did not stop within ${STOP_GRACE_MS / 1000} s of ${name} (does the agent answer?), quitting; the destination may be partly written\n`);
        process.exit(EXIT_RUNTIME);
      }, STOP_GRACE_MS).unref();
    } else {
      stderr.write(`basyn: ${name} received again, quitting at once; the destination may be partly written\n`);
      // The agent and ssh are killed on the way out (transport/agent-process.ts).
      process.exit(EXIT_RUNTIME);
    }
  };
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(name, () => onSignal(name));
  return (code) => {
    finalCode = code;
  };
}

export function cliMain(): void {
  keepYoungGenerationSmall();
  main(process.argv.slice(2)).then(
    (code) => {
      // Exit now rather than when the event loop has drained: a signal can only be
      // handled while Node's signal watchers exist, and they go away during the
      // final teardown. (stdout and stderr are synchronous for files, pipes and
      // terminals on Linux, so nothing printed is lost.)
      process.exit(code);
    },
    (error: unknown) => {
      try {
        process.stderr.write(`basyn: ${errorLine(error)}\n`);
      } catch {
        // nowhere left to say it; the exit code does
      }
      process.exit(EXIT_RUNTIME);
    },
  );
}
