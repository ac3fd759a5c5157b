import { join } from 'node:path';
import type { Logger } from 'pino';
import type { GroupStore, KeyDirectory, MessageStore } from '../core/index.js';
import { ensureDirectory } from './atomic-file.js';
import type { DaemonConfig } from './config.js';
import { FileGroupStore } from './group-files.js';
import { FileKeyDirectory } from './key-directory.js';
import { LocalLoginLockout, type LoginLockout } from './login-lockout.js';
import { migrate } from './postgres/migrate.js';
import { PgGroupStore } from './postgres/pg-group-store.js';
import { PgKeyDirectory } from './postgres/pg-key-directory.js';
import { PgLoginLockout } from './postgres/pg-login-lockout.js';
import { PgMessageStore } from './postgres/pg-message-store.js';
import { openPgServerSecret } from './postgres/pg-server-secret.js';
import { PgSocketRegistry } from './postgres/pg-socket-registry.js';
import { createPool, describeUrl } from './postgres/pool.js';
import { SegmentedStore } from './segmented-store.js';
import { ServerSecret } from './server-secret.js';
import { LocalSocketRegistry, type SocketRegistry } from './socket-registry.js';

/** Everything the relay keeps, behind the interfaces of src/core/storage.ts. */
export interface Stores {
  readonly keys: KeyDirectory;
  readonly store: MessageStore;
  readonly groups: GroupStore;
  readonly secret: ServerSecret;
  /** Where it lives, as it may be printed (no credentials). */
  readonly where: string;
  /** Sockets per identifier and the online flag: of this daemon, or of every daemon on the database. */
  readonly registry: SocketRegistry;
  /** Failed logins per identifier: of this daemon, or of every daemon on the database. */
  readonly lockout: LoginLockout;
  /** With several daemons: the registry's dead-daemon reports (the relay announces them offline). */
  readonly shared?: PgSocketRegistry;
}

/** Opens the configured store: PostgreSQL (migrated first) when a URL is given, else the data directory. */
export async function openStores(config: DaemonConfig, logger: Logger): Promise<Stores> {
  if (config.postgresUrl !== undefined) {
    const pool = createPool(config.postgresUrl, logger);
    try {
      const applied = await migrate(pool);
      if (applied.length > 0)
        logger.info({ event: 'migrated', versions: applied }, 'schema migrated');
      const secret = await openPgServerSecret(pool);
      const registry = await PgSocketRegistry.open(pool, logger);
      return {
        keys: new PgKeyDirectory(pool),
        store: new PgMessageStore(pool, config.storage),
        groups: new PgGroupStore(pool),
        secret,
        where: `store: ${describeUrl(config.postgresUrl)}`,
        registry,
        lockout: new PgLoginLockout(pool, config.limits, logger),
        shared: registry,
      };
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }
  await ensureDirectory(config.dataDir);
  const store = await SegmentedStore.open(config.dataDir, undefined, config.storage);
  return {
    keys: await FileKeyDirectory.open(
      join(config.dataDir, 'keys'),
      config.storage.minFreeBytes,
      (identifier) => store.forget(identifier),
    ),
    store,
    groups: await FileGroupStore.open(config.dataDir, config.storage.minFreeBytes),
    secret: await ServerSecret.open(config.dataDir),
    where: `data: ${config.dataDir}`,
    registry: new LocalSocketRegistry(),
    lockout: new LocalLoginLockout(config.limits),
  };
}

/**
 * Closes every store, each even when another fails (a dead PostgreSQL, a full disk): a timer or a
 * pool left behind would keep querying after the relay is gone. Resolves with the first failure of
 * the message store, which the caller reports; the others are already logged or harmless.
 */
export async function closeStores(stores: Stores): Promise<unknown> {
  const { registry, lockout, groups, store } = stores;
  lockout.close();
  await registry.close().catch(() => undefined);
  await groups.close().catch(() => undefined);
  return store.close().then(
    () => undefined,
    (error: unknown) => error ?? new Error('store close failed'),
  );
}
