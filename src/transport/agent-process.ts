/**
 * Starts the agent: over ssh on a remote host, or as a child node process on this
 * machine (no --host). Either way the agent's stdin and stdout carry the protocol and
 * its stderr is kept to explain a failure (and shown, prefixed, with --debug).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { AgentLink } from '../device/remote-device.js';
import { UsageError } from '../errors.js';
import { quoteName, quoteText } from '../report/quote.js';
import { AGENT_NODE_FLAGS, BOOTSTRAP, BOOTSTRAP_EXIT_NO_SCRIPT, BOOTSTRAP_EXIT_OLD_NODE, MIN_NODE_MAJOR, framedAgentScript } from './agent-bootstrap.js';
import type { PieceName } from '../pieces/agent-pieces.js';
import { ProtocolStart } from './protocol-start.js';
import { readerWriterPair } from './reused-read-buffer.js';
import { quoteShellWord } from './shell-words.js';
import { workingDirectoryIsGone } from '../util/working-directory.js';

export interface SshTarget {
  host: string;
  /** Only passed to ssh when given, so ~/.ssh/config can set it otherwise. */
  port?: number;
  user?: string;
  /** The ssh program and its own options (-e/--rsh, already split into words). */
  rsh?: readonly string[];
}

export interface AgentProcessOptions {
  /** Where the agent runs; undefined: a child process on this machine. */
  ssh?: SshTarget;
  /** The node program on the agent's host (--remote-node); default "node" from PATH. */
  remoteNode?: string;
  /** Run the agent through `sudo -n` (--sudo). */
  sudo?: boolean;
  /** The pieces (WebAssembly modules) the run needs, sent after the agent script. */
  pieces?: readonly PieceName[];
  /** Receives each line the agent or ssh writes to stderr. */
  onStderrLine?: (line: string) => void;
  /** Receives what the remote side wrote on stdout before the agent started (a shell's banner), described. */
  onSkippedOutput?: (description: string) => void;
  /** Extra environment for a local agent (tests). */
  env?: NodeJS.ProcessEnv;
}

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The agents (or ssh clients) of this process still running. Whatever way this process
 * ends, they end with it: a process.exit() (a second Ctrl-C), an uncaught exception,
 * or simply the end of the run, where a settled agent is not waited for. ssh and the
 * local agent run in their own process group (so a Ctrl-C in the terminal reaches
 * basyn alone), so nothing else would stop them; an ssh left running keeps its remote
 * agent alive, and that agent holds the device's writer lock, so the next run is
 * refused as busy. Only synchronous work is possible on the way out: kill() is.
 */
const running = new Set<ChildProcess>();

function killRunningAgents(): void {
  for (const child of running) {
    try {
      // Through sudo, SIGKILL would kill sudo alone; sudo passes SIGTERM on to the agent.
      child.kill(sudoChildren.has(child) ? 'SIGTERM' : 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

const sudoChildren = new WeakSet<ChildProcess>();
let exitHooked = false;

function killWithThisProcess(child: ChildProcess, viaLocalSudo: boolean): void {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', killRunningAgents);
    // An uncaught exception ends the process without an 'exit' event.
    process.on('uncaughtExceptionMonitor', () => {
      // With a handler of its own the process may live on, and so may its agents.
      if (process.listenerCount('uncaughtException') === 0) killRunningAgents();
    });
  }
  if (viaLocalSudo) sudoChildren.add(child);
  running.add(child);
  const forget = (): void => void running.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
}

export class AgentProcess implements AgentLink {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly exited: Promise<AgentExit>;
  /** "host backup.example" or "this machine". */
  readonly where: string;
  private readonly stderrTail: string[] = [];
  private exit: AgentExit | undefined;
  private spawnFailure: string | undefined;
  private readonly start: ProtocolStart;

  private constructor(
    private readonly child: ChildProcess,
    private readonly isSsh: boolean,
    where: string,
    onStderrLine: ((line: string) => void) | undefined,
    private readonly sudo: boolean,
    private readonly node: string,
    /** The program spawned here, and the option that named it, to explain a failed start. */
    private readonly program: { path: string; option: string | undefined },
    onSkippedOutput: ((description: string) => void) | undefined,
    /** The agent's stdout: read into a reused buffer where it could be (start()). */
    private readonly agentStdout: Readable,
  ) {
    this.where = where;
    this.stdin = child.stdin!;
    this.start = new ProtocolStart(agentStdout, {
      skipped: () => onSkippedOutput?.(this.start.describeSkipped()),
      // Whatever runs there will not start the agent: don't wait for it to end.
      overflowed: () => this.kill(),
      quiet: () => this.kill(),
    });
    this.stdout = this.start.input;
    // EPIPE when the agent is gone is reported through the exit, not as a crash.
    this.stdin.on('error', () => undefined);
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) this.keepStderr(line, onStderrLine);
    });
    child.stderr!.on('end', () => {
      if (partial !== '') this.keepStderr(partial, onStderrLine);
      partial = '';
    });
    this.exited = new Promise((resolve) => {
      child.on('error', (error) => {
        this.spawnFailure = this.describeSpawnFailure(error);
        this.stderrTail.push(`${this.isSsh ? 'ssh' : 'node'}: ${error.message}`);
        this.exit = { code: 255, signal: null };
        resolve(this.exit);
      });
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  /** Why the program could not be started at all, in the user's words (not "spawn ENOENT"). */
  private describeSpawnFailure(error: Error): string | undefined {
    const code = (error as NodeJS.ErrnoException).code;
    const { path, option } = this.program;
    const named = option !== undefined ? ` (${option})` : '';
    if (code === 'ENOENT') return `${quoteName(path)} was not found on this machine${named}`;
    if (code === 'EACCES') return `${quoteName(path)} cannot be run on this machine: permission denied${named}`;
    return undefined;
  }

  private keepStderr(line: string, onStderrLine: ((line: string) => void) | undefined): void {
    const clean = line.replace(/\r$/, '');
    if (clean.trim() === '') return;
    this.stderrTail.push(clean);
    if (this.stderrTail.length > 20) this.stderrTail.shift();
    onStderrLine?.(clean);
  }

  static async start(options: AgentProcessOptions): Promise<AgentProcess> {
    // The agent's stdout is read into one reused buffer where a socket pair can be made
    // (reused-read-buffer.ts), else from a plain pipe into fresh memory per read.
    const pair = await readerWriterPair();
    try {
      return AgentProcess.spawnAgent(options, pair);
    } catch (error) {
      // spawn throws (rather than emits 'error') for some failures: nothing may be left open.
      pair?.reader.destroy();
      pair?.writer.destroy();
      throw error;
    }
  }

  private static spawnAgent(options: AgentProcessOptions, pair: { reader: Socket; writer: Socket } | undefined): AgentProcess {
    const stdio: ['pipe', 'pipe' | Socket, 'pipe'] = ['pipe', pair?.writer ?? 'pipe', 'pipe'];
    let child: ChildProcess;
    let where: string;
    let started: { path: string; option: string | undefined };
    // Over ssh, node from the remote PATH; on this machine, this very node.
    const node = options.remoteNode ?? (options.ssh !== undefined ? 'node' : process.execPath);
    const sudo = options.sudo === true;
    const flags = AGENT_NODE_FLAGS.join(' ');
    if (options.ssh !== undefined) {
      const { host, port, user, rsh } = options.ssh;
      assertSafeHost(host);
      const [program, ...rshArgs] = rsh !== undefined && rsh.length > 0 ? rsh : ['ssh'];
      const args = [...rshArgs, '-T', '-e', 'none', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20'];
      if (port !== undefined) args.push('-p', String(port));
      if (user !== undefined) args.push('-l', user);
      // The remote shell parses this line: every part is fixed text or quoted.
      const remote = [...(sudo ? ['sudo', '-n', '--'] : []), quoteShellWord(node), flags, '-e', `'${BOOTSTRAP}'`].join(' ');
      args.push('--', host, `exec ${remote}`);
      child = spawn(program!, args, { stdio, detached: true });
      where = `host ${quoteName(host)}`;
      started = { path: program!, option: rsh !== undefined && rsh.length > 0 ? '-e/--rsh' : 'install the OpenSSH client, or name one with -e/--rsh' };
    } else {
      const [program, ...args] = [...(sudo ? ['sudo', '-n', '--'] : []), node, ...AGENT_NODE_FLAGS, '-e', BOOTSTRAP];
      child = spawn(program!, args, {
        stdio,
        detached: true,
        // Its hashing threads need a working directory; relative paths were refused already.
        cwd: workingDirectoryIsGone() ? '/' : undefined,
        env: { ...process.env, ...options.env },
      });
      where = 'this machine';
      started = { path: program!, option: sudo ? '--sudo' : options.remoteNode !== undefined ? '--remote-node' : undefined };
    }
    // The child has its own copy of the writing end: this one would keep the reader from ever ending.
    pair?.writer.destroy();
    killWithThisProcess(child, sudo && options.ssh === undefined);
    const agent = new AgentProcess(child, options.ssh !== undefined, where, options.onStderrLine, sudo, node, started, options.onSkippedOutput, pair?.reader ?? child.stdout!);
    agent.stdin.write(framedAgentScript(options.pieces));
    return agent;
  }

  get input(): Readable {
    return this.stdout;
  }

  get output(): Writable {
    return this.stdin;
  }

  async explainLoss(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
    clearTimeout(timer);
    return this.explainExit();
  }

  close(options?: { wait?: boolean }): Promise<void> {
    if (options?.wait === false) {
      this.detach();
      return Promise.resolve();
    }
    return this.stop();
  }

  /**
   * Lets this process exit without waiting for the agent, which exits after BYE (and
   * is killed if still there when this process exits: everything it wrote is flushed).
   */
  private detach(): void {
    this.stdin.end();
    this.child.unref();
    for (const stream of [this.agentStdout, this.child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** The bootstrap's line about a node below MIN_NODE_MAJOR, said with where that node is and what to do. */
  private oldNode(line: string): string {
    const found = /\bnode (v\d+[\w.-]*)/.exec(line)?.[1];
    if (found === undefined) return line.replace(/^basyn: /, '');
    const remedy = this.isSsh
      ? `install node >= ${MIN_NODE_MAJOR} there (Debian 12's and Ubuntu 24.04's nodejs package will do) or name one with --remote-node`
      : 'name a newer node with --remote-node';
    return `${quoteName(this.node)} on ${this.where} is node ${found}, too old for basyn's agent, which needs node >= ${MIN_NODE_MAJOR}: ${remedy}`;
  }

  /** One line saying why the agent is gone, from its exit status and last stderr lines. */
  explainExit(): string {
    const exit = this.exit;
    const lastLine = this.stderrTail.filter((l) => !/^Warning: Permanently added/.test(l)).at(-1);
    // What the remote side printed is foreign text: shown escaped, never raw.
    const last = lastLine !== undefined ? quoteText(lastLine) : undefined;
    if (this.spawnFailure !== undefined) return this.spawnFailure;
    if (exit === undefined) return `the agent on ${this.where} stopped answering`;
    if (exit.code === BOOTSTRAP_EXIT_OLD_NODE && last !== undefined) return this.oldNode(last);
    if (exit.code === BOOTSTRAP_EXIT_NO_SCRIPT) return `the agent on ${this.where} did not receive its script`;
    if (this.sudo && last !== undefined && /^sudo: /.test(last)) {
      const asks = /password|terminal/.test(last);
      return asks
        ? `sudo on ${this.where} wants a password and --sudo never asks for one (${last}); allow the agent with a NOPASSWD sudo rule for ${quoteName(this.node)}`
        : `sudo on ${this.where} refused: ${last}`;
    }
    if (exit.code === 127) {
      return this.node === 'node'
        ? `node was not found on ${this.where} (basyn needs node >= ${MIN_NODE_MAJOR} on the remote PATH, or --remote-node=PATH)`
        : `${quoteName(this.node)} was not found on ${this.where} (--remote-node)`;
    }
    const noStart = this.start.describeFailure();
    if (noStart !== undefined) {
      const hint = this.isSsh
        ? "is the remote shell clean? (look in the remote user's shell start-up files, such as ~/.bashrc or ~/.profile, for commands that exit or keep ssh's command from running)"
        : `is ${quoteName(this.program.path)} a node that runs basyn's bootstrap${this.program.option !== undefined ? ` (${this.program.option})` : ''}?`;
      return `the agent on ${this.where} did not start: ${noStart}; ${hint}`;
    }
    // Over ssh the child is the ssh client: a signal killed ssh itself, not the agent.
    if (this.isSsh && exit.signal !== null) return `ssh to ${this.where} was killed by ${exit.signal}`;
    if (this.isSsh && exit.code === 255) {
      // ssh says nothing when the remote command dies of a signal; it just exits 255.
      return last !== undefined
        ? `ssh to ${this.where} failed: ${last}`
        : `ssh to ${this.where} ended with code 255 and no message (the agent was killed or the connection was cut)`;
    }
    const status = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    return `the agent on ${this.where} ${status}${last !== undefined ? `: ${last}` : ''}`;
  }

  /** Closes the agent's stdin and waits for it to exit; kills it after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exit !== undefined) return;
    this.stdin.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
  }
}

/** A host is never allowed to become an ssh option. */
export function assertSafeHost(host: string): void {
  if (host === '') throw new UsageError('host name is empty');
  if (host.startsWith('-')) throw new UsageError(`host ${quoteName(host)} begins with "-"; refusing it so it cannot become an ssh option`);
  if (/[\s\0]/.test(host)) throw new UsageError(`host ${quoteName(host)} contains white space or NUL`);
}
