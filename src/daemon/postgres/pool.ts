import type { Logger } from 'pino';
import pg from 'pg';
import { MetaChatError, RelayError } from '../../core/index.js';

/** Connections one daemon keeps open to PostgreSQL; each one is a send in flight. */
export const POOL_SIZE = 16;

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

/** Runs a database operation, turning any failure into STORE_FAILED: the client retries, nothing is half-acknowledged. */
export async function guarded<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof MetaChatError) throw error;
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
