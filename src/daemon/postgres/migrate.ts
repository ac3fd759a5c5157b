import type pg from 'pg';
import { MIGRATIONS, type Migration } from './migrations.js';

/** Any fixed number: the advisory lock that lets one daemon at a time migrate a database. */
const MIGRATION_LOCK = 7_373_001;

/** The database was migrated by a newer build: this one must not write to it. */
export class SchemaTooNewError extends Error {
  readonly code = 'SCHEMA_TOO_NEW';

  constructor(found: number, known: number) {
    super(
      `The database schema is at version ${found}, newer than this build knows (${known}); update metachat-daemon.`,
    );
    this.name = 'SchemaTooNewError';
  }
}

/**
 * Applies the migrations a database lacks, in order, each in its own transaction, under an
 * advisory lock so that daemons starting together do not race. Resolves to the versions applied.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS metachat_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number }>(
        'SELECT version FROM metachat_migrations',
      );
      const applied = new Set(rows.map((row) => row.version));
      const known = Math.max(0, ...migrations.map((m) => m.version));
      const newest = Math.max(0, ...applied);
      if (newest > known) throw new SchemaTooNewError(newest, known);
      const done: number[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO metachat_migrations (version, name) VALUES ($1, $2)', [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        done.push(migration.version);
      }
      return done;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}
