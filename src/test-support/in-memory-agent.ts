/**
 * The agent and its client in one process, over in-memory streams: the real
 * AgentServer and RemoteDevice talking the real protocol, without ssh or a child
 * process. Also a raw session (bytes in, decoded frames out) to feed an agent
 * anything, and a fake agent that answers a RemoteDevice with whatever a test scripts.
 */
import { PassThrough } from 'node:stream';
import { AgentServer, type AgentOptions } from '../agent/agent-server.js';
import type { Device } from '../device/device.js';
import { LocalDevice, type LocalDeviceOptions } from '../device/local-device.js';
import { RemoteDevice, type AgentLink, type RemoteDeviceOptions } from '../device/remote-device.js';
import {
  FrameDecoder, MIN_PROTOCOL_VERSION, MessageType, PROTOCOL_MAGIC, PROTOCOL_VERSION, decodeMessage, encodeMessage,
  type Message,
} from '../protocol/protocol.js';
import { codecsCapability } from '../protocol/capabilities.js';
import { localEncodings } from '../protocol/codec-policy.js';

export const TEST_AGENT_SOFTWARE = 'basyn-agent test (in memory)';

export interface InMemoryAgent {
  server: AgentServer;
  link: AgentLink;
}

/** An AgentServer on a pair of in-memory streams, and the link a RemoteDevice uses to reach it. */
export function startInMemoryAgent(options: Partial<AgentOptions> = {}): InMemoryAgent {
  const toAgent = new PassThrough();
  const fromAgent = new PassThrough();
  const server = new AgentServer(toAgent, fromAgent, { software: TEST_AGENT_SOFTWARE, ...options });
  const link: AgentLink = {
    input: fromAgent,
    output: toAgent,
    where: 'this machine',
    explainLoss: async () => `the agent ended with code ${await server.done}`,
    close: async () => {
      toAgent.end();
      await server.done;
    },
  };
  return { server, link };
}

/** Opens a device through an in-memory agent whose device is wrapped by `wrap` (fault injection). */
export async function connectThroughAgent(
  options: RemoteDeviceOptions,
  wrap?: (device: Device) => Device,
): Promise<{ device: RemoteDevice; server: AgentServer }> {
  const openDevice = async (path: string, o: LocalDeviceOptions): Promise<Device> => {
    const device = await LocalDevice.open(path, o);
    return wrap !== undefined ? wrap(device) : device;
  };
  const { server, link } = startInMemoryAgent({ openDevice });
  const device = await RemoteDevice.connect(link, options);
  return { device, server };
}

export function encode(m: Message): Buffer {
  return Buffer.concat(encodeMessage(m));
}

export function clientHello(overrides: Partial<Extract<Message, { type: MessageType.Hello }>> = {}): Buffer {
  return encode({
    type: MessageType.Hello, magic: PROTOCOL_MAGIC, version: PROTOCOL_VERSION, minVersion: MIN_PROTOCOL_VERSION,
    software: 'basyn test client', capabilities: [codecsCapability(localEncodings())], ...overrides,
  });
}

/** Raw bytes to an agent, its frames decoded as they come back. */
export class RawAgentSession {
  readonly server: AgentServer;
  readonly toAgent = new PassThrough();
  readonly fromAgent = new PassThrough();
  readonly frames: Message[] = [];
  /** Set when the agent sent something that does not decode (never expected). */
  outputError: Error | undefined;
  readonly outputEnded: Promise<void>;
  private readonly decoder = new FrameDecoder(2 ** 31);
  private waiters: (() => void)[] = [];

  constructor(options: Partial<AgentOptions> = {}) {
    this.server = new AgentServer(this.toAgent, this.fromAgent, { software: TEST_AGENT_SOFTWARE, ...options });
    this.fromAgent.on('data', (chunk: Buffer) => {
      try {
        for (const frame of this.decoder.push(chunk)) this.frames.push(decodeMessage(frame.body));
      } catch (error) {
        this.outputError = error as Error;
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.outputEnded = new Promise((resolve) => this.fromAgent.on('end', resolve));
    void this.outputEnded.then(() => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(bytes: Buffer): void {
    if (!this.toAgent.writableEnded) this.toAgent.write(bytes);
  }

  sendMessage(m: Message): void {
    this.send(encode(m));
  }

  end(): void {
    if (!this.toAgent.writableEnded) this.toAgent.end();
  }

  /** Resolves with the first frame matching `match`, or undefined once the output ended without one. */
  async waitForFrame(match: (m: Message) => boolean): Promise<Message | undefined> {
    let ended = false;
    void this.outputEnded.then(() => (ended = true));
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (ended || this.fromAgent.readableEnded) return undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }
}

export interface FakeAgentControl {
  send(m: Message): void;
  sendRaw(bytes: Buffer): void;
  /** Ends the agent's output (as if it exited). */
  end(): void;
}

/**
 * A link to a scripted agent: `greeting` is sent first (default: a correct HELLO),
 * then `respond` is called with each message the client sends.
 */
export function fakeAgentLink(
  respond: (m: Message, agent: FakeAgentControl) => void,
  greeting: Buffer | undefined = encode({
    type: MessageType.Hello, magic: PROTOCOL_MAGIC, version: PROTOCOL_VERSION, minVersion: MIN_PROTOCOL_VERSION,
    software: 'fake agent', capabilities: [codecsCapability(localEncodings())],
  }),
): { link: AgentLink; control: FakeAgentControl; received: Message[] } {
  const toAgent = new PassThrough();
  const fromAgent = new PassThrough();
  const control: FakeAgentControl = {
    send: (m) => {
      if (!fromAgent.writableEnded) fromAgent.write(encode(m));
    },
    sendRaw: (b) => {
      if (!fromAgent.writableEnded) fromAgent.write(b);
    },
    end: () => {
      if (!fromAgent.writableEnded) fromAgent.end();
    },
  };
  const received: Message[] = [];
  const decoder = new FrameDecoder(2 ** 31);
  toAgent.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) {
      const m = decodeMessage(frame.body);
      received.push(m);
      respond(m, control);
    }
  });
  toAgent.on('end', () => control.end());
  if (greeting !== undefined) fromAgent.write(greeting);
  const link: AgentLink = {
    input: fromAgent,
    output: toAgent,
    where: 'host fake',
    explainLoss: async () => 'the fake agent ended',
    close: async () => {
      toAgent.end();
      control.end();
    },
  };
  return { link, control, received };
}
