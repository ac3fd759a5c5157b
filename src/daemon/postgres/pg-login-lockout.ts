import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { RelayLimits } from '../config.js';
import type { LoginLockout } from '../login-lockout.js';
import { failureCode, guarded } from './pool.js';

/** The database's clock in milliseconds: every daemon counts on the same clock. */
const NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

/**
 * One attempt, in one statement: the identifier's row is locked by the upsert, its failures older
 * than the window ($3 ms) dropped, and the attempt appended only while fewer than $4 remain. The
 * token ($2) says whether this attempt was the one counted; `wait` is what is left of the window.
 */
const ATTEMPT = `
WITH now AS (SELECT ${NOW_MS} AS ms),
up AS (
  INSERT INTO login_failures AS f (identifier, times, token)
  SELECT $1, ARRAY[now.ms], $2 FROM now
  ON CONFLICT (identifier) DO UPDATE SET
    times = CASE
      WHEN cardinality(metachat_recent(f.times, EXCLUDED.times[1] - $3)) < $4
      THEN metachat_recent(f.times, EXCLUDED.times[1] - $3) || EXCLUDED.times[1]
      ELSE metachat_recent(f.times, EXCLUDED.times[1] - $3) END,
    token = CASE
      WHEN cardinality(metachat_recent(f.times, EXCLUDED.times[1] - $3)) < $4
      THEN EXCLUDED.token ELSE f.token END
  RETURNING token, times
)
SELECT up.token = $2 AS counted, up.times[1] + $3 - now.ms AS wait FROM up, now`;

/** How often rows whose every failure is older than the window are deleted. */
const CLEANUP_MS = 60_000;

/**
 * Failed logins per identifier in `login_failures`, shared by every daemon on the database: five
 * wrong passwords through five daemons lock the identifier as five through one would. Unknown
 * identifiers are counted the same way; their rows go once the window has passed.
 */
export class PgLoginLockout implements LoginLockout {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pool: pg.Pool,
    private readonly limits: RelayLimits,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => {
      Promise.resolve()
        .then(() =>
          this.pool.query(
            `DELETE FROM login_failures WHERE times[cardinality(times)] < ${NOW_MS} - $1::bigint`,
            [this.limits.loginWindowMs],
          ),
        )
        .catch((error: unknown) => {
          this.logger.warn(
            { event: 'lockout-cleanup-failed', code: failureCode(error) },
            'lockout',
          );
        });
    }, CLEANUP_MS);
    this.timer.unref();
  }

  async attempt(identifier: string): Promise<number> {
    const { rows } = await guarded(() =>
      this.pool.query<{ counted: boolean; wait: string }>(ATTEMPT, [
        identifier,
        randomUUID(),
        this.limits.loginWindowMs,
        this.limits.loginFailuresPerIdentifier,
      ]),
    );
    const row = rows[0];
    if (!row || row.counted) return 0;
    return Math.max(1, Number(row.wait));
  }

  async succeeded(identifier: string): Promise<void> {
    await guarded(() =>
      this.pool.query('DELETE FROM login_failures WHERE identifier = $1', [identifier]),
    );
  }

  close(): void {
    clearInterval(this.timer);
  }
}
