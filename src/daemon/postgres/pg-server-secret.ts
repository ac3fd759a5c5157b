import type pg from 'pg';
import { ServerSecret } from '../server-secret.js';
import { StoreCorruptError } from '../store-corrupt-error.js';

/**
 * The prelogin secret in the database, made by whichever daemon starts first, so that every daemon
 * gives an unknown identifier the same fake parameters.
 */
export async function openPgServerSecret(pool: pg.Pool): Promise<ServerSecret> {
  await pool.query('INSERT INTO server_secret (secret) VALUES ($1) ON CONFLICT DO NOTHING', [
    ServerSecret.fresh(),
  ]);
  const { rows } = await pool.query<{ secret: Buffer }>('SELECT secret FROM server_secret');
  const secret = rows[0]?.secret;
  if (!secret || secret.length !== 32)
    throw new StoreCorruptError('server_secret', 'it is not a 32-byte secret');
  return ServerSecret.of(secret);
}
