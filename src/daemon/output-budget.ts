import { setTimeout as sleep } from 'node:timers/promises';

/** One engine.io packet as the connection queues it. */
interface EnginePacket {
  readonly data?: unknown;
}

/** The parts of an engine.io connection (and its transport) this module reads. */
export interface EngineConnection {
  readonly readyState: string;
  readonly transport: {
    readonly socket?: { readonly bufferedAmount?: unknown; terminate?: () => void };
  };
  on(event: 'packetCreate', listener: (packet: EnginePacket) => void): void;
  on(event: 'flush', listener: (packets: readonly EnginePacket[]) => void): void;
  on(event: 'close', listener: () => void): void;
  close(discard?: boolean): void;
}

function sizeOf(packet: EnginePacket): number {
  const { data } = packet;
  if (typeof data === 'string') return data.length;
  if (data instanceof Uint8Array) return data.byteLength;
  return 0;
}

/** How often a waiting page read looks whether the previous page has left. */
const DRAIN_POLL_MS = 20;

/**
 * Bounds what one connection holds unsent: the packets engine.io queued but could not hand to the
 * transport yet, plus what the WebSocket and TCP socket hold unwritten. A reader that stops reading
 * makes this grow; past `maxBytes` the connection is closed at once (its queue discarded, its TCP
 * socket destroyed), so a paused reader costs at most that much memory, never the process.
 */
export class OutputBudget {
  private queued = 0;
  private overflowed = false;
  private closed = false;

  constructor(
    private readonly connection: EngineConnection,
    private readonly maxBytes: number,
    private readonly onOverflow: (unsentBytes: number) => void,
  ) {
    connection.on('packetCreate', (packet) => {
      this.queued += sizeOf(packet);
      this.check();
    });
    connection.on('flush', (packets) => {
      for (const packet of packets) this.queued -= sizeOf(packet);
      if (this.queued < 0) this.queued = 0;
    });
    connection.on('close', () => {
      this.closed = true;
    });
  }

  /** Bytes queued for this connection that the network has not taken yet. */
  unsent(): number {
    const buffered = this.connection.transport.socket?.bufferedAmount;
    return this.queued + (typeof buffered === 'number' ? buffered : 0);
  }

  /** Resolves true once less than `bytes` is unsent, false if that takes over `timeoutMs` or the connection closes. */
  async waitBelow(bytes: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.unsent() >= bytes) {
      if (this.closed || this.overflowed || Date.now() >= deadline) return false;
      await sleep(DRAIN_POLL_MS);
    }
    return !this.closed;
  }

  private check(): void {
    if (this.overflowed || this.closed) return;
    const unsent = this.unsent();
    if (unsent <= this.maxBytes) return;
    this.overflowed = true;
    // Not from inside engine.io's send path: close once it has returned, in this same turn.
    queueMicrotask(() => {
      this.onOverflow(unsent);
      this.connection.transport.socket?.terminate?.();
      this.connection.close(true);
    });
  }
}
