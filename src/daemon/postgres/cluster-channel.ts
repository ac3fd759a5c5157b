import type { ClusterMessage } from 'socket.io-adapter';
import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import { endBounded, failureCode } from './pool.js';

/** NOTIFY refuses payloads of 8000 bytes or more: larger messages go through the attachments table. */
const NOTIFY_LIMIT_BYTES = 7_900;
/** The table (migration 2) that holds messages too large for a NOTIFY, and how long they stay. */
const ATTACHMENTS = 'socket_io_attachments';
const ATTACHMENT_LIFETIME_MS = 30_000;
/** Wait before listening again after the connection broke: 1 to 3 s, so daemons do not stampede. */
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_SPREAD_MS = 2_000;
/** How long a connect may take, and how long closing may wait on PostgreSQL, at most. */
const CONNECT_TIMEOUT_MS = 5_000;
const CLOSE_BOUND_MS = 2_000;
/** Notifications sent in one statement at most: under load, one round trip carries many. */
const NOTIFY_BATCH = 256;

/**
 * What every daemon's message has (the adapter reads the rest by its type); a row or notification
 * that is not one is dropped and logged, never handed on.
 */
const envelopeSchema = z
  .object({
    uid: z.string(),
    type: z.number().int(),
    nsp: z.string().optional(),
    attachmentId: z.union([z.string(), z.number()]).optional(),
  })
  .loose();

/** What the channel hands each message from another daemon to. */
export type ClusterReceiver = (message: ClusterMessage) => void;

/**
 * The LISTEN/NOTIFY link between the daemons of one database, for Socket.IO's PostgreSQL adapter.
 * Replaces the adapter's own connection handling, which takes its listening connection from a
 * shared pool and never gives it back once PostgreSQL drops it (so `pool.end()` waits forever),
 * and can start two reconnection loops at once. Here: one dedicated connection with an error
 * handler, one reconnection loop, and a close that waits on PostgreSQL at most a bounded time.
 * Messages published while PostgreSQL is down are lost (logged); a device catches up by `sync`.
 */
export class ClusterChannel {
  private readonly pool: pg.Pool;
  private listener: pg.Client | undefined;
  private closed = false;
  private reconnect: NodeJS.Timeout | undefined;
  private readonly cleanup: NodeJS.Timeout;
  private listening = false;
  /** Notifications waiting for the statement under way, in publish order, and that statement. */
  private readonly queue: string[] = [];
  private sending: Promise<void> | undefined;
  /** Makes every payload distinct: PostgreSQL folds identical payloads of one statement into one. */
  private sent = 0;
  /** How this daemon's own payloads begin (its uid first): they come back and are dropped unparsed. */
  private ownPrefix: string | undefined;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly logger: Logger,
    private readonly isOwn: (message: ClusterMessage) => boolean,
    private readonly receive: ClusterReceiver,
  ) {
    // Its own small pool for NOTIFY and attachments: broadcasts never wait behind the store's sends.
    this.pool = new pg.Pool({
      connectionString: url,
      max: 2,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: CONNECT_TIMEOUT_MS,
      application_name: 'metachat-daemon-cluster',
    });
    this.pool.on('error', (error) => this.warn('cluster-connection-lost', error));
    this.cleanup = setInterval(() => {
      Promise.resolve()
        .then(() =>
          this.pool.query(
            `DELETE FROM ${ATTACHMENTS} WHERE created_at < now() - interval '${ATTACHMENT_LIFETIME_MS} milliseconds'`,
          ),
        )
        .catch((error: unknown) => this.warn('cluster-cleanup-failed', error));
    }, ATTACHMENT_LIFETIME_MS);
    this.cleanup.unref();
    void this.listen();
  }

  /** Whether the listening connection is up now (tests wait for it after a PostgreSQL restart). */
  get connected(): boolean {
    return this.listening;
  }

  /** Sends a message to every other daemon; a failure is logged, never thrown (the store is the truth). */
  async publish(message: ClusterMessage): Promise<void> {
    if (this.closed) return;
    try {
      // The uid first, so that this daemon's own messages, which PostgreSQL delivers back to its
      // listening connection, are known by their first bytes and never parsed.
      const { uid, ...rest } = message;
      this.ownPrefix ??= `{"uid":${JSON.stringify(uid)},`;
      const json = JSON.stringify({ uid, ...rest, n: this.sent++ });
      if (Buffer.byteLength(json) <= NOTIFY_LIMIT_BYTES) {
        await this.notify(json);
        return;
      }
      const { rows } = await this.pool.query<{ id: string }>(
        `INSERT INTO ${ATTACHMENTS} (payload) VALUES ($1) RETURNING id`,
        [Buffer.from(json)],
      );
      const header = JSON.stringify({
        uid: message.uid,
        type: message.type,
        attachmentId: rows[0]?.id,
      });
      await this.notify(header);
    } catch (error) {
      this.warn('cluster-broadcast-failed', error);
    }
  }

  /**
   * Queues one notification; resolves once a statement that sent it ended. One statement at a time
   * sends everything queued meanwhile (up to NOTIFY_BATCH, in order), so a burst of broadcasts costs
   * a few round trips instead of one each, and never waits on the pool past its timeout.
   */
  private notify(payload: string): Promise<void> {
    this.queue.push(payload);
    this.sending ??= this.drain().finally(() => {
      this.sending = undefined;
    });
    return this.sending;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue.splice(0, NOTIFY_BATCH);
      try {
        await this.pool.query(
          'SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS t(payload, n) ORDER BY n',
          [this.channel, batch],
        );
      } catch (error) {
        this.warn('cluster-broadcast-failed', error);
      }
    }
  }

  /** Stops listening and closes both connections, waiting on PostgreSQL at most a bounded time. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnect);
    clearInterval(this.cleanup);
    const listener = this.listener;
    this.listener = undefined;
    this.listening = false;
    await Promise.all([
      listener ? endBounded(listener, CLOSE_BOUND_MS) : undefined,
      endBounded(this.pool, CLOSE_BOUND_MS),
    ]);
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: 'metachat-daemon-listen',
    });
    this.listener = client;
    // Both 'error' and 'end' may come, and a failed connect too: the loop goes on once.
    const link = { lost: false };
    const again = () => {
      if (link.lost) return;
      link.lost = true;
      this.listening = false;
      if (this.listener === client) this.listener = undefined;
      void endBounded(client, CLOSE_BOUND_MS);
      if (this.closed) return;
      const delay = RECONNECT_MIN_MS + Math.floor(Math.random() * RECONNECT_SPREAD_MS);
      this.reconnect = setTimeout(() => void this.listen(), delay);
    };
    client.on('error', (error) => {
      this.warn('cluster-listen-lost', error);
      again();
    });
    client.on('end', again);
    client.on('notification', (notification) => {
      void this.deliver(notification.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      if (this.isClosed() || link.lost) return;
      this.listening = true;
      this.logger.info({ event: 'cluster-listening' }, 'listening to the other daemons');
    } catch (error) {
      this.warn('cluster-listen-failed', error);
      again();
    }
  }

  private isClosed(): boolean {
    return this.closed;
  }

  private async deliver(payload: string | undefined): Promise<void> {
    if (this.ownPrefix !== undefined && payload?.startsWith(this.ownPrefix)) return;
    try {
      const parsed = envelopeSchema.parse(JSON.parse(payload ?? ''));
      const message = parsed as unknown as ClusterMessage;
      if (this.isOwn(message)) return;
      if (parsed.attachmentId === undefined) {
        this.receive(message);
        return;
      }
      const { rows } = await this.pool.query<{ payload: Buffer }>(
        `SELECT payload FROM ${ATTACHMENTS} WHERE id = $1`,
        [parsed.attachmentId],
      );
      const row = rows[0];
      if (!row) throw Object.assign(new Error('attachment gone'), { code: 'ATTACHMENT_GONE' });
      const full = envelopeSchema.parse(JSON.parse(row.payload.toString('utf8')));
      this.receive(full as unknown as ClusterMessage);
    } catch (error) {
      this.warn('cluster-message-dropped', error);
    }
  }

  private warn(event: string, error: unknown): void {
    this.logger.warn({ event, code: failureCode(error) }, 'cluster link');
  }
}
