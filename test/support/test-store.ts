import { sharedPostgres } from './postgres-server.js';

/** The stores the relay runs on; the suites listed in jest.config.js run on each. */
export type StoreKind = 'lowdb' | 'postgres';

/** The store this jest project tests: `postgres` in the postgres project, else the data directory. */
export function testStore(): StoreKind {
  return process.env['METACHAT_TEST_STORE'] === 'postgres' ? 'postgres' : 'lowdb';
}

const databases = new Map<string, Promise<string>>();

/**
 * The database that stands for a data directory in the postgres project: one fresh database per
 * directory, so a test that restarts a relay on the same directory finds its data again.
 */
export function databaseFor(dataDir: string): Promise<string> {
  let url = databases.get(dataDir);
  if (!url) {
    url = sharedPostgres().then((server) => server.createDatabase());
    databases.set(dataDir, url);
  }
  return url;
}

/** The daemon options that select this project's store for a data directory. */
export async function storeArgs(dataDir: string): Promise<string[]> {
  return testStore() === 'postgres' ? ['--store', await databaseFor(dataDir)] : [];
}
