import { PostgresAdapter } from '@socket.io/postgres-adapter';
import type { Logger } from 'pino';
import type { Namespace } from 'socket.io';
import type { ClusterMessage } from 'socket.io-adapter';
import { ClusterChannel } from './cluster-channel.js';

/** The NOTIFY channel of the relay's one namespace, as the adapter names it. */
const CHANNEL = 'socket.io#/';

type AdapterClient = ConstructorParameters<typeof PostgresAdapter>[2];

/** The adapter factory for `io.adapter()`, and how to stop its connections. */
export interface ClusterAdapter {
  readonly factory: (nsp: Namespace) => PostgresAdapter;
  /** Whether the link to the other daemons is listening now. */
  readonly connected: () => boolean;
  /** Call after `io.close()`: closes the link, waiting on PostgreSQL at most about 2 s. */
  close(): Promise<void>;
}

/**
 * Socket.IO's PostgreSQL adapter (`PostgresAdapter`, with its heartbeats and room broadcasts) over
 * our own LISTEN/NOTIFY link (ClusterChannel): a broadcast to a room (a user's packets, receipts,
 * presence) reaches that room's sockets on every daemon of the database. It reconnects by itself
 * after PostgreSQL restarts; meanwhile broadcasts to other daemons are lost (devices catch up by sync).
 */
export function clusterAdapter(url: string, logger: Logger): ClusterAdapter {
  let adapter: PostgresAdapter | undefined;
  const uidOf = (a: PostgresAdapter) => (a as unknown as { uid: string }).uid;
  const channel = new ClusterChannel(
    url,
    CHANNEL,
    logger,
    (message) => adapter !== undefined && message.uid === uidOf(adapter),
    (message: ClusterMessage) => adapter?.onMessage(message),
  );
  return {
    // Socket.IO calls the factory with `new`: a plain function (not a method) may be.
    factory: function (nsp: Namespace) {
      if (nsp.name !== '/') throw new Error('the relay serves one namespace');
      adapter = new PostgresAdapter(nsp, {}, channel as unknown as AdapterClient);
      return adapter;
    },
    connected: () => channel.connected,
    close: () => channel.close(),
  };
}
