import { resolve } from 'node:path';
import { ConfigError, parseStoreUrl } from './config.js';
import { createLogger } from './logger.js';
import { describe, importLowdb } from './postgres/import-lowdb.js';
import { createPool, describeUrl } from './postgres/pool.js';

/**
 * `metachat-daemon import-lowdb <dir> --store URL`: moves a stopped relay's data directory into
 * PostgreSQL and prints what the database then holds (counts and checksum) and how long it took.
 */
export async function importCommand(dataDir: string, store: string | undefined): Promise<void> {
  const url = parseStoreUrl(store ?? process.env['METACHAT_STORE']);
  if (url === undefined)
    throw new ConfigError('import-lowdb needs --store postgres://user@host/db.');
  const pool = createPool(url, createLogger('silent'), 1);
  const started = performance.now();
  try {
    const { summary, alreadyImported } = await importLowdb(resolve(dataDir), pool);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      alreadyImported
        ? `metachat-daemon: ${describeUrl(url)} already holds this import, nothing written: ${describe(summary)}\n`
        : `metachat-daemon: imported ${dataDir} into ${describeUrl(url)} in ${seconds} s, verified: ${describe(summary)}\n`,
    );
  } finally {
    await pool.end();
  }
}
