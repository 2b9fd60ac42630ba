/**
 * --progress on a terminal never draws a line wider than the terminal (a wider one
 * wraps, and the carriage return of the next redraw leaves its first row behind),
 * clears the line before each redraw and redraws when the terminal is resized; on
 * TERM=dumb or when stderr is not a terminal it writes plain lines, no carriage
 * returns or escape codes, every few seconds and at the end of each phase. On the
 * printer with a stand-in stream, then with the real command in a real pseudo-terminal
 * 40 columns wide (util-linux `script`).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cmp, writeImage } from '../test-support/images.js';
import { BASYN_BIN } from '../test-support/paths.js';
import { makeTempDir } from '../test-support/temp-dir.js';
import { ProgressPrinter, type ProgressSink } from './progress-printer.js';

const MiB = 1024 * 1024;
const CLEAR = '\r\x1b[2K';

class FakeTerminal implements ProgressSink {
  text = '';
  private listeners: (() => void)[] = [];
  constructor(readonly isTTY: boolean, public columns?: number) {}
  write(text: string): void {
    this.text += text;
  }
  on(_event: 'resize', listener: () => void): void {
    this.listeners.push(listener);
  }
  off(_event: 'resize', listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
  resize(columns: number): void {
    this.columns = columns;
    for (const l of [...this.listeners]) l();
  }
  get listening(): number {
    return this.listeners.length;
  }
}

/** What each redraw of the line shows: the text between carriage returns and newlines, escape codes removed. */
function drawnLines(output: string): string[] {
  return output.split(/\r\n|\r|\n/).map((l) => l.replaceAll('\x1b[2K', '')).filter((l) => l !== '');
}

/** Runs one phase of `total` bytes, updated every `step` ms of fake time for `seconds`. */
function runPhase(sink: ProgressSink, term: string | undefined, seconds: number, step = 100): void {
  let t = 0;
  const printer = new ProgressPrinter(sink, () => t, false, term);
  const total = 50 * 1024 * MiB;
  printer.start('BITMAP SYNC', total);
  for (t = step; t <= seconds * 1000; t += step) printer.update(Math.floor((total * t) / (seconds * 1000 + 1000)));
  t = seconds * 1000;
  printer.update(total);
  printer.end();
}

describe('the progress printer', () => {
  test('on a terminal 40 columns wide, every redraw clears the line and fits in 39 columns', () => {
    const tty = new FakeTerminal(true, 40);
    runPhase(tty, 'xterm', 3);
    const draws = tty.text.split(CLEAR).slice(1);
    assert.ok(draws.length >= 10, `redrawn at most 5 times a second: ${draws.length} draws`);
    assert.ok(tty.text.startsWith(CLEAR), 'each redraw begins by clearing the line');
    for (const line of drawnLines(tty.text)) {
      assert.ok(line.length <= 39, `${JSON.stringify(line)} is ${line.length} columns`);
      assert.match(line, /^BITMAP SYNC +\d+\.\d%/, 'the phase and the percentage are kept');
    }
    assert.match(drawnLines(tty.text).at(-1)!, / in \d\d:\d\d$/, 'the last line says how long the phase took');
    assert.ok(tty.text.endsWith('\n'));
  });

  test('a wide terminal gets the whole line', () => {
    const tty = new FakeTerminal(true, 200);
    runPhase(tty, 'xterm', 1);
    assert.match(drawnLines(tty.text).at(-1)!, /^BITMAP SYNC 100\.0% \d.* GiB \/ 50\.0 GiB .*\/s in 00:01$/);
  });

  test('when the terminal is resized, the line is redrawn at once at the new width, and the printer stops listening at the end', () => {
    let t = 0;
    const tty = new FakeTerminal(true, 120);
    const printer = new ProgressPrinter(tty, () => t, false, 'xterm');
    printer.start('SYNC', 100 * MiB);
    t = 1000;
    printer.update(30 * MiB);
    const wide = drawnLines(tty.text).at(-1)!;
    assert.ok(wide.length > 30, wide);
    assert.equal(tty.listening, 1);
    tty.resize(30);
    const after = tty.text.slice(tty.text.lastIndexOf(CLEAR));
    assert.ok(after.length > CLEAR.length, 'a redraw follows the resize');
    assert.ok(drawnLines(after)[0]!.length <= 29, JSON.stringify(after));
    printer.end();
    assert.equal(tty.listening, 0);
  });

  for (const [name, sink, term] of [
    ['TERM=dumb on a terminal', new FakeTerminal(true, 40), 'dumb'],
    ['stderr not a terminal', new FakeTerminal(false), 'xterm'],
  ] as const) {
    test(`${name}: plain lines, no carriage return or escape code, one every five seconds and at the end`, () => {
      runPhase(sink, term, 23);
      assert.doesNotMatch(sink.text, /[\r\x1b]/);
      const lines = sink.text.split('\n');
      assert.equal(lines.pop(), '', 'every line ends with a newline');
      assert.equal(lines.length, 5, `4 lines in 23 s (every 5 s) and the final one: ${JSON.stringify(lines)}`);
      assert.match(lines.at(-1)!, /^BITMAP SYNC 100\.0% .* in 00:23$/);
      assert.equal(sink.listening, 0, 'no resize listener');
    });
  }
});

describe('the basyn command in a pseudo-terminal 40 columns wide', () => {
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  const skip = script.status === 0 ? false : 'util-linux script(1) is not installed: no pseudo-terminal to test in';
  let dir: { path: string; remove(): Promise<void> };
  before(async () => {
    dir = await makeTempDir('basyn-progress-tty-');
  });
  after(async () => dir?.remove());

  /** Runs basyn with its stdio on a new pseudo-terminal of 40 columns; resolves with what the terminal received. */
  function inTerminal(term: string, args: string[]): Promise<{ code: number | null; output: string }> {
    const quoted = [process.execPath, BASYN_BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qec', `stty cols 40 rows 24; TERM=${term} exec ${quoted}`, '/dev/null'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (output += t));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  }

  test('TERM=xterm: every redraw fits in 39 columns and the line is cleared before it', { skip }, async () => {
    const source = join(dir.path, 'source.img');
    const destination = join(dir.path, 'destination.img');
    await writeImage(source, 24 * MiB, 1);
    await writeImage(destination, 24 * MiB, 2);
    const r = await inTerminal('xterm', ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'COPY', '--buffer', '64', '--progress']);
    assert.equal(r.code, 0, JSON.stringify(r.output));
    assert.ok(await cmp(source, destination), 'cmp: devices differ');
    assert.ok(r.output.includes(CLEAR), JSON.stringify(r.output));
    const lines = drawnLines(r.output);
    assert.ok(lines.length >= 1, JSON.stringify(r.output));
    for (const line of lines) assert.ok(line.length <= 39, `${JSON.stringify(line)} is ${line.length} columns wide`);
    assert.match(lines.at(-1)!, /^COPY 100\.0% .*in \d\d:\d\d$/);
  });

  test('TERM=dumb: plain lines only, no carriage return redraw or escape code', { skip }, async () => {
    const source = join(dir.path, 'source-dumb.img');
    const destination = join(dir.path, 'destination-dumb.img');
    await writeImage(source, 8 * MiB, 3);
    await writeImage(destination, 8 * MiB, 4);
    const r = await inTerminal('dumb', ['-l', source, '-r', destination, '-a', 'PUSH', '-m', 'COPY', '--buffer', '64', '--progress']);
    assert.equal(r.code, 0, JSON.stringify(r.output));
    assert.ok(await cmp(source, destination), 'cmp: devices differ');
    // The terminal itself turns each newline into CR LF; a lone CR would be a redraw.
    assert.doesNotMatch(r.output.replaceAll('\r\n', '\n'), /[\r\x1b]/, JSON.stringify(r.output));
    assert.match(r.output, /^COPY 100\.0% 8\.00 MiB \/ 8\.00 MiB .* in \d\d:\d\d\r\n$/m);
  });
});
