import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { Server } from 'socket.io';
import { MAX_PACKET_BYTES, MetaChatError, RelayError, toWireError } from '../core/index.js';
import { login, prelogin, register } from './account-handlers.js';
import type { DaemonConfig } from './config.js';
import { changePassword } from './credentials-handlers.js';
import { rotateKey } from './rotate-key-handler.js';
import { ACCOUNT_DELETED_EVENT, deleteAccount, deletion } from './delete-account-handler.js';
import { connectionGuard, dropConnection } from './connection-guard.js';
import { groupAppend, groupList, groupLog } from './group-handlers.js';
import { groupSend } from './group-send-handler.js';
import { history, key, receipt, send, sync } from './message-handlers.js';
import { closeStores, openStores, type Stores } from './open-stores.js';
import { clusterAdapter } from './postgres/cluster-adapter.js';
import { FailureLimiter, TokenBucket } from './rate-limit.js';
import type { EngineConnection } from './output-budget.js';
import { RefusalLog } from './refusal-log.js';
import type { RelayContext, RelayServer, RelaySocket, Session } from './relay-context.js';
import { authenticate, challenge, leave, vanished } from './session-handlers.js';
import { coalesceServerWrites } from './write-coalescing.js';
import { preEncodingParser } from './push-encoding.js';

type Handler = (ctx: RelayContext, session: Session, input: unknown) => Promise<object>;

/**
 * Every event the relay answers; anything else is refused with UNKNOWN_EVENT. A Map, so that an
 * event named `constructor` or `__proto__` finds nothing instead of an inherited property.
 */
const HANDLERS: ReadonlyMap<string, Handler> = new Map(
  Object.entries({
    register,
    prelogin,
    login,
    challenge,
    authenticate,
    key,
    send,
    sync,
    history,
    receipt,
    'change-password': changePassword,
    'group-append': groupAppend,
    'group-log': groupLog,
    'group-list': groupList,
    'group-send': groupSend,
    'rotate-key': rotateKey,
    'delete-account': deleteAccount,
    deletion,
  }),
);

/** Socket.IO frame overhead allowed on top of the largest packet (event name, ack id, brackets). */
const FRAME_OVERHEAD_BYTES = 1024;

/** Client addresses a per-address limiter remembers at most (the least recently seen go first). */
const MAX_TRACKED_ADDRESSES = 100_000;

/** A running relay. */
export interface Relay {
  /** `http://host:port` the relay listens on. */
  readonly url: string;
  readonly port: number;
  /** Where it stores, as it may be printed: `data: DIR` or `store: postgres://host/db`. */
  readonly where: string;
  /** Stops accepting, finishes pending writes, closes every socket and file. */
  close(): Promise<void>;
}

/** Starts the relay: opens its store (the data directory or PostgreSQL), then listens. */
export async function startRelay(config: DaemonConfig, logger: Logger): Promise<Relay> {
  const stores = await openStores(config, logger);
  try {
    return await listen(config, logger, stores);
  } catch (error) {
    await closeStores(stores);
    throw error;
  }
}

/** The relay on opened stores; a failure to listen (a port in use) leaves the caller to close them. */
async function listen(config: DaemonConfig, logger: Logger, stores: Stores): Promise<Relay> {
  const { keys, store, groups, secret, where, registry, lockout, shared } = stores;
  const started = Date.now();
  const refusals = new RefusalLog(logger);
  const guard = connectionGuard(config, refusals);
  const http = createServer((req, res) => {
    health(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'health check failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"store unavailable"}');
    });
  });
  const io: RelayServer = new Server(http, {
    serveClient: false,
    // The default parser, except that a push can carry the packet's JSON as the store wrote it.
    parser: preEncodingParser,
    maxHttpBufferSize: MAX_PACKET_BYTES + FRAME_OVERHEAD_BYTES,
    allowRequest: (req, callback) => {
      guard.allowRequest(req, (error, ok) => {
        callback(error ?? undefined, ok);
      });
    },
    ...(config.allowedOrigins.length > 0 ? { cors: { origin: [...config.allowedOrigins] } } : {}),
  });
  guard.attach(io);
  coalesceServerWrites(io);
  const cluster =
    config.postgresUrl === undefined ? undefined : clusterAdapter(config.postgresUrl, logger);
  if (cluster) io.adapter(cluster.factory);
  const ctx: RelayContext = {
    io,
    keys,
    store,
    groups,
    secret,
    limits: config.limits,
    logger,
    lockout,
    addressLoginLimiter: new FailureLimiter(
      config.limits.loginFailuresPerAddress,
      config.limits.loginWindowMs,
      Date.now,
      MAX_TRACKED_ADDRESSES,
    ),
    registrationLimiter: new FailureLimiter(
      config.limits.registrationsPerAddressPerHour,
      60 * 60_000,
      Date.now,
      MAX_TRACKED_ADDRESSES,
    ),
    refusals,
    clustered: cluster !== undefined,
    registry,
    publicKeys: new LRUCache({ max: config.limits.cachedPublicKeys }),
  };
  // Another daemon of the database deleted an account: its cached key must not let a send through.
  if (cluster)
    io.on(ACCOUNT_DELETED_EVENT, (identifier: unknown) => {
      if (typeof identifier === 'string') ctx.publicKeys.delete(identifier);
    });
  const inflight = new Set<Promise<void>>();
  let closing = false;
  // Sockets of a daemon that died: their identifiers go offline for their peers, from here.
  shared?.whenGone((identifiers) => {
    const task = vanished(ctx, identifiers).catch((error: unknown) => {
      logger.error({ err: error }, 'presence update failed');
    });
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  });

  async function health(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/healthz') {
      const [users, messages] = await Promise.all([keys.count(), store.size()]);
      const body = JSON.stringify({
        status: closing ? 'closing' : 'ok',
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        users,
        connections: io.engine.clientsCount,
        messages,
      });
      res.writeHead(closing ? 503 : 200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  }

  function dispatch(session: Session, event: string, args: unknown[]): void {
    const last = args.at(-1);
    const ack = typeof last === 'function' ? (last as (response: unknown) => void) : undefined;
    const reply = (response: object) => {
      try {
        ack?.(response);
      } catch (error) {
        logger.warn({ event, err: String(error) }, 'acknowledgement failed');
      }
    };
    const refuse = (error: unknown) => {
      if (!(error instanceof MetaChatError)) logger.error({ event, err: error }, 'handler failed');
      else if (error.code === 'STORE_FAILED')
        logger.error({ event, code: error.code }, 'store write failed');
      reply({ ok: false, error: toWireError(error) });
    };
    const handler = HANDLERS.get(event);
    if (!session.bucket.take()) {
      refuse(new RelayError('RATE_LIMITED', 'Too many requests; slow down.'));
      return;
    }
    if (handler === undefined) {
      refuse(new RelayError('UNKNOWN_EVENT', 'The relay does not know this event.'));
      return;
    }
    if (closing) {
      refuse(new RelayError('STORE_FAILED', 'The relay is shutting down; retry shortly.'));
      return;
    }
    if (ack === undefined) return;
    const payload =
      args.length > 2 ? Symbol('too many arguments') : args.length === 2 ? args[0] : undefined;
    const task = Promise.resolve()
      .then(() => handler(ctx, session, payload))
      .then((result) => {
        reply({ ok: true, ...result });
      }, refuse);
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  }

  io.on('connection', (socket: RelaySocket) => {
    const state = guard.stateOf(socket.conn);
    if (state === undefined) {
      socket.disconnect(true);
      return;
    }
    state.joined = true;
    const session: Session = {
      socket,
      address: state.address,
      output: state.output,
      bucket: new TokenBucket(config.limits.eventBurst, config.limits.eventsPerSecond),
      identifier: undefined,
      nonce: undefined,
      authenticating: false,
      reading: false,
      loginFailures: 0,
      loginsInFlight: 0,
      authFailures: 0,
      registrations: 0,
      idle: undefined,
    };
    session.idle = setTimeout(() => {
      if (session.identifier !== undefined) return;
      refusals.note('connection-closed', 'UNAUTHENTICATED_TIMEOUT');
      dropConnection(socket.conn as unknown as EngineConnection);
    }, config.limits.unauthenticatedTimeoutMs);
    socket.onAny((event: unknown, ...args: unknown[]) => {
      dispatch(session, typeof event === 'string' ? event : '', args);
    });
    socket.on('disconnect', () => {
      clearTimeout(session.idle);
      const task = leave(ctx, session).catch((error: unknown) => {
        logger.error({ err: error }, 'presence update failed');
      });
      inflight.add(task);
      void task.finally(() => inflight.delete(task));
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    logger.info(
      {
        event: 'listening',
        port: (http.address() as AddressInfo).port,
        users: await keys.count(),
        messages: await store.size(),
      },
      'relay started',
    );
  } catch (error) {
    closing = true;
    await io.close();
    await cluster?.close();
    throw error;
  }
  const address = http.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    where,
    async close() {
      if (closing) return;
      closing = true;
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
      await io.close();
      await cluster?.close();
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
      // Every acknowledged packet is on disk already; what a failed last write loses is the
      // last-seen times since the previous one. Stopping cleanly is still right.
      const failed = await closeStores(stores);
      if (failed !== undefined)
        logger.error(
          { event: 'final-write-failed', code: (failed as NodeJS.ErrnoException).code },
          'the last write of db.json failed (disk full?): recent last-seen times are lost',
        );
      refusals.close();
      logger.info({ event: 'stopped' }, 'relay stopped');
    },
  };
}
