import type { Logger } from 'pino';
import pg from 'pg';
import { MetaChatError, RelayError } from '../../core/index.js';

/** Connections one daemon keeps open to PostgreSQL; each one is a send in flight. */
export const POOL_SIZE = 16;

/** The longest a store query may wait for PostgreSQL's answer. */
export const QUERY_TIMEOUT_MS = 15_000;

/**
 * Ends a client or a pool, but waits on PostgreSQL at most `ms`: a pool whose server vanished can
 * wait forever for a connection to come back. A client still open then has its socket destroyed.
 * Resolves to whether it ended in time.
 */
export async function endBounded(target: pg.Pool | pg.Client, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const ended = target.end().then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = await Promise.race([ended, late]);
  clearTimeout(timer);
  if (!done && target instanceof pg.Client) {
    (
      target as unknown as { connection?: { stream?: { destroy(): void } } }
    ).connection?.stream?.destroy();
  }
  return done;
}

/** The PostgreSQL error code or Node error code of a failure, safe to log (never a value). */
export function failureCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown';
}

/**
 * A connection pool that never takes the daemon down: a connection that breaks while idle (the
 * server restarted) is logged by code and replaced on the next query.
 */
export function createPool(url: string, logger: Logger, max = POOL_SIZE): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 5_000,
    // A query PostgreSQL never answers (the server hung, the network split) fails as STORE_FAILED
    // instead of holding a send, and the relay's close, forever. A commit that did happen is
    // found again by the packet id when the client resends.
    query_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: 'metachat-daemon',
  });
  pool.on('error', (error) => {
    logger.warn(
      { event: 'database-connection-lost', code: failureCode(error) },
      'database connection lost',
    );
  });
  return pool;
}

/** PostgreSQL's SQLSTATE for a write that found no room on its disk (ENOSPC). */
const DISK_FULL = '53100';

/**
 * Runs a database operation, turning any failure into STORE_FAILED (STORAGE_FULL when the
 * database's disk is full): the client retries, nothing is half-acknowledged.
 */
export async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof MetaChatError) throw error;
    if (failureCode(error) === DISK_FULL)
      throw new RelayError(
        'STORAGE_FULL',
        "The relay's database is out of disk space; nothing was stored. Send again later, or tell the relay's operator.",
        { cause: error },
      );
    throw new RelayError(
      'STORE_FAILED',
      'The relay could not reach its database; nothing was stored. Send again shortly.',
      { cause: error },
    );
  }
}

/** A URL as it may be printed: host, port and database, never a user name or password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return 'postgres://(unparsable)';
  }
}
