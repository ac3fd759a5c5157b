import type { Readable, Writable } from 'node:stream';
import { terminalJson } from '../terminal/terminal-text.js';
import { LineSplitter, type SplitEvent } from './line-splitter.js';
import { RPC_CODES, RpcError, rpcErrorOf } from './rpc-errors.js';
import { rpcIdSchema, rpcRequestSchema, type RpcId } from './rpc-schema.js';

/** The bounds of one connection: every one is something a script (or a stuck reader) would grow. */
export interface RpcLimits {
  /** A request line longer than this is refused unread (LINE_TOO_LONG). */
  readonly maxLineBytes: number;
  /** Requests being answered at once; input is not read while this many are. */
  readonly maxInFlight: number;
  /** Output waiting for the reader beyond this: input is not read, notifications wait or are dropped. */
  readonly maxOutputBytes: number;
}

/** The bounds a `metachat jsonrpc` connection runs with (README, "metachat jsonrpc"). */
export const DEFAULT_RPC_LIMITS: RpcLimits = {
  maxLineBytes: 128 * 1024,
  maxInFlight: 256,
  maxOutputBytes: 1024 * 1024,
};

/** Runs one method: the name is one of ours, the params still `unknown`. */
export type RpcDispatch = (method: string, params: unknown) => Promise<unknown>;

/**
 * One JSON-RPC 2.0 peer over a byte stream pair (standard input/output, or a Unix socket's
 * connection): newline-delimited requests in, responses and notifications out. Input is read only
 * while fewer than `maxInFlight` requests are being answered and less than `maxOutputBytes` wait
 * for the reader, so neither a fast writer nor a reader that stopped reading grows the process.
 */
export class RpcConnection {
  private readonly splitter: LineSplitter;
  private readonly backlog: SplitEvent[] = [];
  private inFlight = 0;
  private dropped = 0;
  private ended = false;
  private closedFlag = false;
  private readonly answered = new Set<Promise<void>>();
  private readonly roomWaiters: (() => void)[] = [];
  /** Resolves once the input ended (EOF, or the connection closed) and its requests may still be in flight. */
  readonly inputEnded: Promise<void>;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly dispatch: RpcDispatch,
    private readonly limits: RpcLimits = DEFAULT_RPC_LIMITS,
  ) {
    this.splitter = new LineSplitter(limits.maxLineBytes);
    this.inputEnded = new Promise((resolve) => {
      const end = () => {
        if (this.ended) return;
        this.ended = true;
        this.backlog.push(...this.splitter.end());
        this.pump();
        resolve();
      };
      input.on('end', end);
      input.on('close', end);
      input.on('error', end);
      // Ended already (the password was its only line): nothing more will come.
      if (input.readableEnded || input.destroyed) queueMicrotask(end);
    });
    output.on('drain', () => {
      this.wake();
      this.pump();
    });
    output.on('error', () => {
      this.closedFlag = true;
      this.wake();
    });
    output.on('close', () => {
      this.closedFlag = true;
      this.wake();
    });
    input.on('data', (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.backlog.push(...this.splitter.push(bytes));
      this.pump();
    });
    // A stream a first-line reader paused does not flow again by itself.
    this.pump();
  }

  /** Whether the reader can still be written to. */
  get open(): boolean {
    return !this.closedFlag && this.output.writable;
  }

  /** Whether the reader has more than the bound waiting. */
  get congested(): boolean {
    return this.output.writableLength > this.limits.maxOutputBytes;
  }

  /** Resolves once the output is below its bound again (or the reader is gone). */
  async room(): Promise<void> {
    while (this.open && this.congested) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  /**
   * Writes a notification (no id, no answer). A droppable one (presence, a receipt) is dropped while
   * the reader is behind, and counted: the next one written is preceded by a `warning` saying how
   * many were lost. A message is never dropped: its caller waits for `room()` first.
   */
  notify(method: string, params: unknown, droppable = true): void {
    if (droppable && this.congested) {
      this.dropped++;
      return;
    }
    if (this.dropped > 0) {
      const count = this.dropped;
      this.dropped = 0;
      this.write({
        jsonrpc: '2.0',
        method: 'warning',
        params: {
          code: 'NOTIFICATIONS_DROPPED',
          warning: `${count} presence or receipt notification${count === 1 ? ' was' : 's were'} dropped while the reader was not reading.`,
          dropped: count,
        },
      });
    }
    this.write({ jsonrpc: '2.0', method, params });
  }

  /** Ends the connection: waits up to `graceMs` for the reader to take what is written, then drops it. */
  async close(graceMs: number): Promise<void> {
    this.stopReading();
    if (this.open && this.output.writableLength > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
        this.output.once('drain', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.output.writableLength > 0) this.output.destroy();
    this.input.destroy();
  }

  /** Stops reading requests (shutdown): what was read is still answered. */
  stopReading(): void {
    this.ended = true;
    this.backlog.length = 0;
    this.input.pause();
  }

  /** Resolves once every request read so far has its answer written. */
  async idle(): Promise<void> {
    while (this.answered.size > 0) await Promise.allSettled([...this.answered]);
  }

  private wake(): void {
    for (const resolve of this.roomWaiters.splice(0)) resolve();
  }

  private write(message: unknown): void {
    if (!this.open) return;
    this.output.write(`${terminalJson(message)}\n`);
  }

  private respond(id: RpcId, outcome: { result: unknown } | { error: unknown }): void {
    const body =
      'result' in outcome
        ? { jsonrpc: '2.0', id, result: outcome.result ?? null }
        : { jsonrpc: '2.0', id, error: rpcErrorOf(outcome.error) };
    this.write(body);
  }

  /** Handles lines while there is room; pauses the input whenever there is not. */
  private pump(): void {
    while (this.backlog.length > 0 && this.inFlight < this.limits.maxInFlight && !this.congested) {
      const event = this.backlog.shift();
      if (event !== undefined) this.handle(event);
    }
    const full =
      this.backlog.length > 0 || this.inFlight >= this.limits.maxInFlight || this.congested;
    if (full || this.ended) this.input.pause();
    else this.input.resume();
  }

  private handle(event: SplitEvent): void {
    if (event.kind === 'oversize') {
      this.respond(null, {
        error: new RpcError(
          RPC_CODES.INVALID_REQUEST,
          'LINE_TOO_LONG',
          `A request line is at most ${event.limit} bytes; this one was refused unread, up to its newline.`,
        ),
      });
      return;
    }
    if (event.kind === 'not-utf8') {
      this.respond(null, {
        error: new RpcError(RPC_CODES.PARSE_ERROR, 'PARSE_ERROR', 'The request line is not UTF-8.'),
      });
      return;
    }
    if (event.text.trim().length === 0) return;
    let value: unknown;
    try {
      value = JSON.parse(event.text);
    } catch {
      this.respond(null, {
        error: new RpcError(RPC_CODES.PARSE_ERROR, 'PARSE_ERROR', 'The request line is not JSON.'),
      });
      return;
    }
    const parsed = rpcRequestSchema.safeParse(value);
    if (!parsed.success) {
      this.respond(idOf(value), {
        error: new RpcError(
          RPC_CODES.INVALID_REQUEST,
          'INVALID_REQUEST',
          Array.isArray(value)
            ? 'Batches are not supported: send one request per line.'
            : 'Not a JSON-RPC 2.0 request: {"jsonrpc":"2.0","id":…,"method":…,"params":{…}} (params by name).',
        ),
      });
      return;
    }
    const { id, method, params } = parsed.data;
    this.inFlight++;
    const task = this.dispatch(method, params ?? {}).then(
      (result) => {
        if (id !== undefined) this.respond(id, { result });
      },
      (error: unknown) => {
        if (id !== undefined) this.respond(id, { error });
      },
    );
    const settled = task.finally(() => {
      this.answered.delete(settled);
      this.inFlight--;
      this.pump();
    });
    this.answered.add(settled);
  }
}

/** The id of an invalid request, when it has a valid one: the error answers it. */
function idOf(value: unknown): RpcId {
  if (typeof value !== 'object' || value === null || !('id' in value)) return null;
  const id = rpcIdSchema.safeParse(value.id);
  return id.success ? id.data : null;
}
