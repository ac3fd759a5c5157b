import { io, type Socket } from 'socket.io-client';
import { ackEnvelopeSchema } from '../../src/core/index.js';

/** How long one request may wait for its answer before the behaviour fails. */
const ANSWER_TIMEOUT_MS = 10_000;
/** How long connecting may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/** A relay's answer to one request, reduced to what a behaviour checks. */
export type Answer =
  | { readonly ok: true; readonly result: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly code: string };

/** A behaviour did not hold; the message says what the relay did instead. */
export class Violation extends Error {
  override readonly name = 'Violation';
}

/** How to open a connection: the transport, and an Origin header to send (a browser would). */
export interface ConnectOptions {
  readonly transport?: 'websocket' | 'polling';
  readonly origin?: string;
}

/** One raw Socket.IO connection to the relay under test, with its pushes recorded in order. */
export class Wire {
  /** Every push received, in order: event name and payload. */
  readonly pushes: { event: string; payload: unknown }[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly closedPromise: Promise<string>;

  private constructor(readonly socket: Socket) {
    socket.onAny((event: unknown, payload: unknown) => {
      this.pushes.push({ event: String(event), payload });
      for (const wake of [...this.waiters]) wake();
    });
    this.closedPromise = new Promise((resolve) => {
      socket.once('disconnect', (reason) => {
        resolve(reason);
        for (const wake of [...this.waiters]) wake();
      });
    });
  }

  /** Connects to the main namespace at the default path, as section 10 says a client does. */
  static connect(url: string, options: ConnectOptions = {}): Promise<Wire> {
    const socket = io(url, {
      path: '/socket.io/',
      transports: [options.transport ?? 'websocket'],
      reconnection: false,
      forceNew: true,
      timeout: CONNECT_TIMEOUT_MS,
      ...(options.origin === undefined ? {} : { extraHeaders: { origin: options.origin } }),
    });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('connect_error');
        resolve(new Wire(socket));
      });
      socket.once('connect_error', (error) => {
        socket.close();
        reject(new Violation(`could not connect: ${error.message}`));
      });
    });
  }

  /** True while the transport is open. */
  get connected(): boolean {
    return this.socket.connected;
  }

  /** Emits one request with these arguments and an acknowledgement; checks the answer's envelope. */
  async request(event: string, ...args: unknown[]): Promise<Answer> {
    let response: unknown;
    try {
      response = await this.socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck(event, ...args);
    } catch {
      throw new Violation(`no answer to ${event} within ${ANSWER_TIMEOUT_MS} ms`);
    }
    const envelope = ackEnvelopeSchema.safeParse(response);
    if (!envelope.success) throw new Violation(`the answer to ${event} is not an {ok} envelope`);
    if (!envelope.data.ok) return { ok: false, code: envelope.data.error.code };
    const { ok: _ok, ...result } = envelope.data;
    return { ok: true, result };
  }

  /** Emits without an acknowledgement callback (the relay must ignore such a request). */
  fire(event: string, ...args: unknown[]): void {
    this.socket.emit(event, ...args);
  }

  /** Resolves with the first push of `event` (from `from` on) matching `accept`, or fails after `ms`. */
  async push(
    event: string,
    accept: (payload: unknown) => boolean = () => true,
    ms = 5000,
    from = 0,
  ): Promise<unknown> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.pushes.slice(from).find((p) => p.event === event && accept(p.payload));
      if (found) return found.payload;
      const left = deadline - Date.now();
      if (left <= 0) throw new Violation(`no matching ${event} push within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Resolves with the reason once the relay (or we) closed the connection, or fails after `ms`. */
  async closed(ms = 5000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Violation(`the relay did not close the connection within ${ms} ms`));
      }, ms);
    });
    try {
      return await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Fails unless the answer is a refusal with this code. */
export function expectCode(answer: Answer, code: string, what: string): void {
  if (answer.ok) throw new Violation(`${what}: accepted, expected ${code}`);
  if (answer.code !== code) throw new Violation(`${what}: ${answer.code}, expected ${code}`);
}

/** Fails unless the answer is a success; returns its result. */
export function expectOk(answer: Answer, what: string): Readonly<Record<string, unknown>> {
  if (!answer.ok) throw new Violation(`${what}: refused with ${answer.code}, expected success`);
  return answer.result;
}

/** Fails with `message` unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Violation(message);
}
