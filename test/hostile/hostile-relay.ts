import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';

/** One client connection through the hostile relay, and its own connection to the real one. */
export interface HostileConnection {
  readonly serial: number;
  /** The identifier this connection authenticated as, once the real relay accepted it. */
  readonly identifier: string | undefined;
  /** Pushes an event to the client as if the relay had sent it. */
  push(event: string, payload: unknown): void;
  /** Asks the real relay something on this connection's (authenticated) upstream socket. */
  ask(event: string, payload?: unknown): Promise<unknown>;
}

/**
 * How the relay misbehaves. Each hook sees the traffic of one connection and returns what to pass
 * on instead; absent hooks forward honestly.
 */
export interface Behaviour {
  /** Answers a request itself (never reaching the real relay) when it returns or resolves to something. */
  answer?(event: string, payload: unknown, conn: HostileConnection): unknown;
  /** Rewrites the real relay's acknowledgement. */
  reply?(event: string, payload: unknown, response: unknown, conn: HostileConnection): unknown;
  /** Rewrites a push: the payloads to emit instead ([] drops it). */
  push?(event: string, payload: unknown, conn: HostileConnection): unknown[];
}

/** A request as the hostile relay saw it. */
export interface LoggedRequest {
  readonly event: string;
  readonly identifier: string | undefined;
  readonly payload: unknown;
}

/** A man in the middle in front of a real relay: honest until told otherwise. */
export interface HostileRelay {
  readonly url: string;
  /** Every request that reached it, in order. */
  readonly requests: LoggedRequest[];
  /** Replaces the misbehaviour (an empty object restores honest forwarding). */
  behave(behaviour: Behaviour): void;
  /** The live connections authenticated as an identifier. */
  connectionsOf(identifier: string): HostileConnection[];
  close(): Promise<void>;
}

const ASK_TIMEOUT_MS = 10_000;

/**
 * Starts a Socket.IO server on 127.0.0.1 that forwards every event of every client to the real relay
 * at `upstreamUrl` over its own socket.io-client connection, and relays acknowledgements and pushes
 * back, through whatever `Behaviour` the test installed. For tests only.
 */
export async function startHostileRelay(upstreamUrl: string): Promise<HostileRelay> {
  const http = createServer();
  const server = new Server(http, { serveClient: false, maxHttpBufferSize: 200_000 });
  const requests: LoggedRequest[] = [];
  const live = new Set<HostileConnection>();
  let behaviour: Behaviour = {};
  let serial = 0;

  server.on('connection', (socket: ServerSocket) => {
    const upstream: ClientSocket = io(upstreamUrl, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const ready = new Promise<void>((resolve) => upstream.once('connect', resolve));
    let identifier: string | undefined;
    const conn: HostileConnection = {
      serial: ++serial,
      get identifier() {
        return identifier;
      },
      push(event, payload) {
        socket.emit(event, payload);
      },
      async ask(event, payload): Promise<unknown> {
        await ready;
        const timed = upstream.timeout(ASK_TIMEOUT_MS);
        const response: unknown =
          payload === undefined
            ? await timed.emitWithAck(event)
            : await timed.emitWithAck(event, payload);
        return response;
      },
    };
    live.add(conn);
    socket.onAny((event: string, ...args: unknown[]) => {
      const last = args.at(-1);
      if (typeof last !== 'function') return;
      const ack = last as (response: unknown) => void;
      const payload = args.length > 1 ? args[0] : undefined;
      requests.push({ event, identifier, payload });
      void (async () => {
        const forged: unknown = await behaviour.answer?.(event, payload, conn);
        let response = forged ?? (await conn.ask(event, payload).catch(() => undefined));
        if (response === undefined) return;
        if (
          event === 'authenticate' &&
          (response as { ok?: unknown }).ok === true &&
          typeof (payload as { identifier?: unknown }).identifier === 'string'
        ) {
          identifier = (payload as { identifier: string }).identifier;
        }
        if (behaviour.reply) response = behaviour.reply(event, payload, response, conn);
        ack(response);
      })();
    });
    upstream.onAny((event: string, payload: unknown) => {
      const out = behaviour.push ? behaviour.push(event, payload, conn) : [payload];
      for (const item of out) socket.emit(event, item);
    });
    socket.on('disconnect', () => {
      live.delete(conn);
      upstream.close();
    });
    // After the answers already in hand are passed on: the relay may close right after an answer
    // (delete-account), and its ack and close can arrive in one read, before the forwarding ran.
    upstream.on('disconnect', () => setImmediate(() => socket.disconnect(true)));
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    behave(next) {
      behaviour = next;
    },
    connectionsOf(identifier) {
      return [...live].filter((conn) => conn.identifier === identifier);
    },
    async close() {
      await server.close();
    },
  };
}
