import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { databaseFor, testStore } from './test-store.js';

/**
 * Who is registered, who has a last-seen time and who a delivery cursor above 0, read straight
 * from the store a relay left.
 */
export async function storedState(
  dataDir: string,
): Promise<{ users: string[]; presence: string[]; cursors: string[] }> {
  if (testStore() === 'lowdb') {
    const db = JSON.parse(await readFile(join(dataDir, 'db.json'), 'utf8')) as {
      presence: Record<string, unknown>;
      cursors: Record<string, number>;
    };
    const keys = await readdir(join(dataDir, 'keys'));
    return {
      users: keys.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)),
      presence: Object.keys(db.presence),
      cursors: Object.keys(db.cursors).filter((id) => (db.cursors[id] ?? 0) > 0),
    };
  }
  const client = new pg.Client({ connectionString: await databaseFor(dataDir) });
  await client.connect();
  try {
    const users = await client.query<{ identifier: string }>('SELECT identifier FROM users');
    const seen = await client.query<{ identifier: string }>(
      'SELECT identifier FROM streams WHERE last_seen IS NOT NULL',
    );
    const read = await client.query<{ identifier: string }>(
      'SELECT identifier FROM streams WHERE delivered > 0',
    );
    return {
      users: users.rows.map((r) => r.identifier),
      presence: seen.rows.map((r) => r.identifier),
      cursors: read.rows.map((r) => r.identifier),
    };
  } finally {
    await client.end();
  }
}
