import type { IncomingMessage } from 'node:http';
import type { Server } from 'socket.io';
import { clientAddressOf, compileTrust } from './client-address.js';
import type { DaemonConfig } from './config.js';
import { ConnectionGate } from './connection-gate.js';
import { OutputBudget, type EngineConnection } from './output-budget.js';
import type { RefusalLog } from './refusal-log.js';

/** What the relay knows of one engine.io connection before any socket on it says a word. */
export interface ConnectionState {
  readonly address: string;
  readonly output: OutputBudget;
  /** A Socket.IO socket opened on it; until then only the engine's own timer can close it. */
  joined: boolean;
}

/**
 * Closes a connection at once: its queue discarded and its TCP socket destroyed, without the
 * WebSocket closing handshake a client that does not read would make last 30 s.
 */
export function dropConnection(connection: EngineConnection): void {
  connection.transport.socket?.terminate?.();
  connection.close(true);
}

/** The connection limits of one relay: who may open a connection, and what one may hold unsent. */
export interface ConnectionGuard {
  /** Engine.io's `allowRequest`: browser origins and the connection caps, checked at the handshake. */
  allowRequest(
    request: IncomingMessage,
    callback: (error: string | null, ok: boolean) => void,
  ): void;
  /** Counts and bounds every connection the engine opens; call once on the server. */
  attach(io: Server): void;
  /** The state of an engine connection that `attach` admitted. */
  stateOf(connection: unknown): ConnectionState | undefined;
  /** Open connections counted. */
  readonly size: number;
}

interface GuardedConnection extends EngineConnection {
  readonly request: IncomingMessage;
}

/** Builds the guard from the configuration; refusals are logged with codes only. */
export function connectionGuard(config: DaemonConfig, refusals: RefusalLog): ConnectionGuard {
  const trust = compileTrust(config.trustProxy ?? []);
  const { limits } = config;
  const gate = new ConnectionGate(limits.maxConnections, limits.maxConnectionsPerAddress);
  const states = new WeakMap<object, ConnectionState>();
  return {
    allowRequest(request, callback) {
      const origin = request.headers.origin;
      if (origin !== undefined && !config.allowedOrigins.includes(origin)) {
        callback('origin not allowed', false);
        return;
      }
      const refusal = gate.refusal(clientAddressOf(request, trust));
      if (refusal !== undefined) {
        refusals.note('connection-refused', refusal);
        callback(refusal, false);
        return;
      }
      callback(null, true);
    },
    attach(io) {
      io.engine.on('connection', (connection: GuardedConnection) => {
        const address = clientAddressOf(connection.request, trust);
        // Handshakes racing past allowRequest are counted here, and the one over a cap is closed.
        const refusal = gate.open(address);
        if (refusal !== undefined) {
          refusals.note('connection-refused', refusal);
          dropConnection(connection);
          return;
        }
        const output = new OutputBudget(connection, limits.maxUnsentBytes, () => {
          refusals.note('connection-closed', 'OUTPUT_OVERFLOW', 'warn');
        });
        const state: ConnectionState = { address, output, joined: false };
        states.set(connection, state);
        // A bare engine.io connection that never opens a socket: closed like an unauthenticated one.
        const timer = setTimeout(() => {
          if (state.joined) return;
          refusals.note('connection-closed', 'UNAUTHENTICATED_TIMEOUT');
          dropConnection(connection);
        }, limits.unauthenticatedTimeoutMs);
        connection.on('close', () => {
          clearTimeout(timer);
          gate.close(address);
        });
      });
    },
    stateOf(connection) {
      return typeof connection === 'object' && connection !== null
        ? states.get(connection)
        : undefined;
    },
    get size() {
      return gate.size;
    },
  };
}
