import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { WalFlush } from '../../src/daemon/postgres/wal-flush.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';

let server: PostgresServer;

beforeAll(async () => {
  server = await startPostgres();
  // The WAL writer would flush the async commit by itself within wal_writer_delay: 10 s keeps it
  // out of the way, so what is on disk after flush() is what flush() did.
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`ALTER SYSTEM SET wal_writer_delay = '10s'`);
  await admin.query('SELECT pg_reload_conf()');
  await admin.end();
}, 60_000);

afterAll(async () => {
  await server.stop();
});

describe('WalFlush', () => {
  it('makes an async commit durable even where the database sets synchronous_commit off', async () => {
    const url = await server.createDatabase();
    const name = new URL(url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`ALTER DATABASE "${name}" SET synchronous_commit = off`);
    await admin.end();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      await pool.query('CREATE TABLE t (x int)');
      const wal = new WalFlush(pool);
      for (let round = 0; round < 3; round++) {
        await pool.query('INSERT INTO t VALUES ($1)', [round]);
        const { rows } = await pool.query<{ lsn: string }>(
          'SELECT pg_current_wal_insert_lsn()::text AS lsn',
        );
        await wal.flush();
        const check = await pool.query<{ durable: boolean; setting: string }>(
          `SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS durable,
             current_setting('synchronous_commit') AS setting`,
          [rows[0]?.lsn],
        );
        // Durable, and the database's own setting is left as it was for every other statement.
        expect(check.rows[0]).toEqual({ durable: true, setting: 'off' });
      }
    } finally {
      await pool.end();
    }
  }, 60_000);
});
