import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { MetaChatError } from '../../core/index.js';
import { addLocal, removeLocal, tooManySockets, type SocketRegistry } from '../socket-registry.js';
import { failureCode, guarded } from './pool.js';

/** How often a daemon says it is alive, and how long after its last word it counts as dead. */
export const HEARTBEAT_MS = 5_000;
export const DAEMON_TIMEOUT_SECONDS = 15;

/** A socket row counts while its daemon's heartbeat is fresh: a daemon killed stops counting. */
export const LIVE_SOCKET = (alias: string) =>
  `EXISTS (SELECT 1 FROM daemons d WHERE d.id = ${alias}.daemon
     AND d.heartbeat > clock_timestamp() - interval '${DAEMON_TIMEOUT_SECONDS} seconds')`;

/** Any fixed number: the advisory lock space of the socket cap, one lock per identifier. */
const CAP_LOCK_SEED = 7_373_002;

/** Sockets of dead daemons, and rows left without a daemon: deleted, their identifiers returned. */
const REAP = `
WITH dead AS (
  DELETE FROM daemons
  WHERE heartbeat < clock_timestamp() - interval '${DAEMON_TIMEOUT_SECONDS} seconds'
  RETURNING id
)
DELETE FROM live_sockets
WHERE daemon IN (SELECT id FROM dead) OR daemon NOT IN (SELECT id FROM daemons)
RETURNING identifier`;

/** Called with identifiers whose sockets went away without a goodbye (their daemon died). */
export type GoneHandler = (identifiers: readonly string[]) => void;

/**
 * The sockets of every daemon on the database, in `live_sockets`: the cap per identifier holds
 * across daemons (checked and taken under a per-identifier advisory lock), and an identifier is
 * online while one of its sockets is on a live daemon. Each daemon beats every 5 s; one silent for
 * 15 s (SIGKILL, a lost machine) is dead: the next heartbeat of any daemon deletes its sockets and
 * reports their identifiers, so their peers see them go offline. Each heartbeat also puts this
 * daemon's own rows right (a release that failed while PostgreSQL was down, a restart of it).
 */
export class PgSocketRegistry implements SocketRegistry {
  private readonly sockets = new Map<string, Set<string>>();
  private readonly timer: NodeJS.Timeout;
  private onGone: GoneHandler = () => undefined;
  private beating: Promise<void> = Promise.resolve();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    readonly id: string,
  ) {
    this.timer = setInterval(() => {
      this.beating = this.beating.then(() => this.heartbeat());
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Registers this daemon (a fresh id per start) and starts its heartbeat. */
  static async open(pool: pg.Pool, logger: Logger): Promise<PgSocketRegistry> {
    const id = randomUUID();
    await guarded(() => pool.query('INSERT INTO daemons (id) VALUES ($1)', [id]));
    return new PgSocketRegistry(pool, logger, id);
  }

  get local(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.sockets;
  }

  /** Where identifiers of dead daemons' sockets go (the relay announces them offline). */
  whenGone(handler: GoneHandler): void {
    this.onGone = handler;
  }

  async claim(identifier: string, socket: string, cap: number): Promise<boolean> {
    return guarded(async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2))', [
          identifier,
          CAP_LOCK_SEED,
        ]);
        const { rows } = await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM live_sockets l WHERE l.identifier = $1 AND ${LIVE_SOCKET('l')}`,
          [identifier],
        );
        const held = Number(rows[0]?.n ?? 0);
        if (held >= cap) throw tooManySockets();
        await client.query(
          `INSERT INTO live_sockets (daemon, socket, identifier) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING`,
          [this.id, socket, identifier],
        );
        await client.query('COMMIT');
        addLocal(this.sockets, identifier, socket);
        return held === 0;
      } catch (error) {
        if (!(error instanceof MetaChatError)) broken = error as Error;
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release(broken);
      }
    });
  }

  async release(identifier: string, socket: string): Promise<boolean> {
    removeLocal(this.sockets, identifier, socket);
    return guarded(async () => {
      await this.pool.query('DELETE FROM live_sockets WHERE daemon = $1 AND socket = $2', [
        this.id,
        socket,
      ]);
      return !(await this.isOnline(identifier));
    });
  }

  async isOnline(identifier: string): Promise<boolean> {
    const { rows } = await guarded(() =>
      this.pool.query<{ online: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM live_sockets l WHERE l.identifier = $1 AND ${LIVE_SOCKET('l')})
           AS online`,
        [identifier],
      ),
    );
    return rows[0]?.online === true;
  }

  /** Stops the heartbeat and takes this daemon's rows away (if PostgreSQL answers; else others reap them). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.pool
      .query(
        `WITH s AS (DELETE FROM live_sockets WHERE daemon = $1)
         DELETE FROM daemons WHERE id = $1`,
        [this.id],
      )
      .catch((error: unknown) => this.warn('daemon-unregister-failed', error));
  }

  /** One beat: say alive (again, after being reaped), set own rows right, reap dead daemons. */
  async heartbeat(): Promise<void> {
    try {
      const { rows } = await this.pool.query<{ inserted: boolean }>(
        `INSERT INTO daemons (id) VALUES ($1)
         ON CONFLICT (id) DO UPDATE SET heartbeat = clock_timestamp()
         RETURNING (xmax = 0) AS inserted`,
        [this.id],
      );
      const identifiers: string[] = [];
      const ids: string[] = [];
      for (const [identifier, sockets] of this.sockets)
        for (const socket of sockets) {
          identifiers.push(identifier);
          ids.push(socket);
        }
      if (rows[0]?.inserted === true) {
        // Others took this daemon for dead (PostgreSQL was away): its sockets count again.
        await this.pool.query(
          `INSERT INTO live_sockets (daemon, socket, identifier)
           SELECT $1, s, i FROM unnest($2::text[], $3::text[]) AS u (s, i)
           ON CONFLICT DO NOTHING`,
          [this.id, ids, identifiers],
        );
      }
      const stale = await this.pool.query<{ identifier: string }>(
        `DELETE FROM live_sockets WHERE daemon = $1 AND NOT (socket = ANY ($2::text[]))
         RETURNING identifier`,
        [this.id, ids],
      );
      const reaped = await this.pool.query<{ identifier: string }>(REAP);
      const gone = new Set([...stale.rows, ...reaped.rows].map((row) => row.identifier));
      if (gone.size > 0) this.onGone([...gone]);
    } catch (error) {
      this.warn('heartbeat-failed', error);
    }
  }

  private warn(event: string, error: unknown): void {
    this.logger.warn({ event, code: failureCode(error) }, 'daemon registry');
  }
}
