import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from './logger.js';
import { compileTrust } from './client-address.js';
import { DEFAULT_STORAGE_LIMITS, parseByteSize, type StorageLimits } from './storage-limits.js';

/** The relay's limits; every one is a number a hostile client would like to be unbounded. */
export interface RelayLimits {
  /** Sustained events per second per socket, and the burst above it. */
  readonly eventsPerSecond: number;
  readonly eventBurst: number;
  readonly maxSocketsPerIdentifier: number;
  /** Failed logins per identifier in `loginWindowMs` before it is locked for the rest of the window. */
  readonly loginFailuresPerIdentifier: number;
  readonly loginWindowMs: number;
  /** Failed logins from one client address in `loginWindowMs`, whatever the identifiers, before it is refused. */
  readonly loginFailuresPerAddress: number;
  /** Unregistered identifiers whose failed logins are remembered; registered ones are never forgotten early. */
  readonly maxTrackedUnknownIdentifiers: number;
  /** Failed logins and failed authentications one connection may make before it is dropped. */
  readonly loginFailuresPerConnection: number;
  readonly authFailuresPerConnection: number;
  readonly registrationsPerConnection: number;
  /** Registrations from one client address per hour; reconnecting does not reset it. */
  readonly registrationsPerAddressPerHour: number;
  /** A connection that has not authenticated by then is dropped. */
  readonly unauthenticatedTimeoutMs: number;
  /** Open connections in total, and from one client address (IPv6: one /64). */
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  /** Output queued for one connection and not yet taken by the network; past it the connection is closed. */
  readonly maxUnsentBytes: number;
  /** A page is read only once the connection's unsent output is below this (the previous page left). */
  readonly pageReadBelowBytes: number;
  /** How long a page read waits for the previous page to leave before it is refused. */
  readonly pageDrainWaitMs: number;
  /** Parsed public keys kept in memory (least recently used go first); a miss reads the store. */
  readonly cachedPublicKeys: number;
  /** How long a deleted account's identifier may not be registered again (docs/protocol.md 5c). */
  readonly retirementMs: number;
}

/** Defaults suited to a personal or small-team relay. */
export const DEFAULT_LIMITS: RelayLimits = {
  eventsPerSecond: 200,
  eventBurst: 400,
  maxSocketsPerIdentifier: 16,
  loginFailuresPerIdentifier: 5,
  loginWindowMs: 15 * 60_000,
  loginFailuresPerAddress: 50,
  maxTrackedUnknownIdentifiers: 100_000,
  loginFailuresPerConnection: 10,
  authFailuresPerConnection: 3,
  registrationsPerConnection: 3,
  registrationsPerAddressPerHour: 20,
  unauthenticatedTimeoutMs: 60_000,
  maxConnections: 4096,
  maxConnectionsPerAddress: 64,
  maxUnsentBytes: 8 * 1024 * 1024,
  pageReadBelowBytes: 256 * 1024,
  pageDrainWaitMs: 30_000,
  cachedPublicKeys: 10_000,
  retirementMs: 365 * 86_400_000,
};

/** Everything the daemon needs to start. */
export interface DaemonConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** A `postgres://` URL: the store is PostgreSQL, shared with other daemons; dataDir is unused. */
  readonly postgresUrl?: string | undefined;
  readonly logLevel: LogLevel;
  /** Browser origins allowed to connect; empty (the default) refuses every request that has an Origin. */
  readonly allowedOrigins: readonly string[];
  /** Peer addresses (or CIDR ranges) whose X-Forwarded-For is believed; empty: never. */
  readonly trustProxy?: readonly string[];
  readonly limits: RelayLimits;
  /** Per-user quotas and the free-space floor. */
  readonly storage: StorageLimits;
}

const portSchema = z.coerce.number().int().min(0).max(65535);

/** Raw option values from the command line and the environment, before validation. */
export interface RawOptions {
  host?: string | undefined;
  port?: string | number | undefined;
  data?: string | undefined;
  store?: string | undefined;
  logLevel?: string | undefined;
  allowOrigin?: readonly string[] | undefined;
  trustProxy?: string | undefined;
  eventsPerSecond?: string | number | undefined;
  registrationsPerHour?: string | number | undefined;
  maxConnections?: string | number | undefined;
  maxConnectionsPerAddress?: string | number | undefined;
  unauthenticatedTimeout?: string | number | undefined;
  quotaBytes?: string | undefined;
  quotaPackets?: string | number | undefined;
  minFreeBytes?: string | undefined;
  retireDays?: string | number | undefined;
}

/** A configuration problem the operator must fix; the daemon does not start. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A `--store` value: undefined (the data directory) or a postgres:// URL. */
export function parseStoreUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    throw new ConfigError(
      'The store must be a URL such as postgres://user@host/db (leave it out to use --data).',
    );
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new ConfigError(
      'The store must be a postgres:// or postgresql:// URL (leave it out to use --data).',
    );
  }
  return value;
}

/** A whole number from `min` to `max`, from the flag, else the environment, else the default. */
function wholeNumber(
  what: string,
  value: string | number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const parsed = z.coerce
    .number()
    .int()
    .min(min)
    .max(max)
    .safeParse(value ?? fallback);
  if (!parsed.success)
    throw new ConfigError(`${what} must be a whole number from ${min} to ${max}.`);
  return parsed.data;
}

/** The --trust-proxy list: comma-separated addresses or CIDR ranges, each checked now. */
function trustList(value: string | undefined): string[] {
  const list = (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  try {
    compileTrust(list);
  } catch {
    throw new ConfigError(
      'Trusted proxies must be IP addresses or CIDR ranges, separated by commas (e.g. 127.0.0.1,10.0.0.0/8).',
    );
  }
  return list;
}

/** A byte size from a flag or the environment (`64m`, `2g`, or plain bytes), at least `min`. */
function byteSize(value: string | undefined, fallback: number, min: number, what: string): number {
  if (value === undefined) return fallback;
  const bytes = parseByteSize(value);
  if (bytes === undefined || bytes < min) {
    throw new ConfigError(
      `${what} must be a number of bytes of at least ${String(min)}, optionally with k, m, g or t (e.g. 256m).`,
    );
  }
  return bytes;
}

/** The storage limits from flags over environment over defaults. */
function resolveStorage(flags: RawOptions, env: NodeJS.ProcessEnv): StorageLimits {
  const packets = z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000_000)
    .safeParse(
      flags.quotaPackets ?? env['METACHAT_QUOTA_PACKETS'] ?? DEFAULT_STORAGE_LIMITS.quotaPackets,
    );
  if (!packets.success)
    throw new ConfigError('The packet quota must be a whole number from 1 to 1000000000.');
  return {
    quotaPackets: packets.data,
    quotaBytes: byteSize(
      flags.quotaBytes ?? env['METACHAT_QUOTA_BYTES'],
      DEFAULT_STORAGE_LIMITS.quotaBytes,
      1,
      'The byte quota',
    ),
    minFreeBytes: byteSize(
      flags.minFreeBytes ?? env['METACHAT_MIN_FREE_BYTES'],
      DEFAULT_STORAGE_LIMITS.minFreeBytes,
      0,
      'The free-space floor',
    ),
  };
}

/** Validates options, flags over environment over defaults. */
export function resolveConfig(flags: RawOptions, env: NodeJS.ProcessEnv): DaemonConfig {
  const port = portSchema.safeParse(flags.port ?? env['METACHAT_PORT'] ?? 7373);
  if (!port.success) throw new ConfigError('The port must be a whole number from 0 to 65535.');
  const level = flags.logLevel ?? env['METACHAT_LOG_LEVEL'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`The log level must be one of ${LOG_LEVELS.join(', ')}.`);
  }
  const postgresUrl = parseStoreUrl(flags.store ?? env['METACHAT_STORE']);
  const d = DEFAULT_LIMITS;
  const rate = wholeNumber(
    'Events per second',
    flags.eventsPerSecond ?? env['METACHAT_EVENTS_PER_SECOND'],
    d.eventsPerSecond,
    1,
    1_000_000,
  );
  const registrations = wholeNumber(
    'Registrations per hour',
    flags.registrationsPerHour ?? env['METACHAT_REGISTRATIONS_PER_HOUR'],
    d.registrationsPerAddressPerHour,
    1,
    1_000_000,
  );
  const maxConnections = wholeNumber(
    'The connection limit',
    flags.maxConnections ?? env['METACHAT_MAX_CONNECTIONS'],
    d.maxConnections,
    1,
    1_000_000,
  );
  const perAddress = wholeNumber(
    'The connection limit per address',
    flags.maxConnectionsPerAddress ?? env['METACHAT_MAX_CONNECTIONS_PER_ADDRESS'],
    d.maxConnectionsPerAddress,
    1,
    1_000_000,
  );
  const unauthenticatedSeconds = wholeNumber(
    'The unauthenticated timeout (seconds)',
    flags.unauthenticatedTimeout ?? env['METACHAT_UNAUTHENTICATED_TIMEOUT'],
    d.unauthenticatedTimeoutMs / 1000,
    1,
    86_400,
  );
  const retireDays = wholeNumber(
    'The retirement of a deleted identifier (days)',
    flags.retireDays ?? env['METACHAT_RETIRE_DAYS'],
    d.retirementMs / 86_400_000,
    1,
    36_500,
  );
  const host = flags.host ?? env['METACHAT_HOST'] ?? '127.0.0.1';
  if (host.length === 0) throw new ConfigError('The host must not be empty.');
  return {
    host,
    port: port.data,
    dataDir: flags.data ?? env['METACHAT_DATA'] ?? './data',
    postgresUrl,
    logLevel: level as LogLevel,
    allowedOrigins:
      flags.allowOrigin ?? env['METACHAT_ALLOW_ORIGIN']?.split(',').filter(Boolean) ?? [],
    trustProxy: trustList(flags.trustProxy ?? env['METACHAT_TRUST_PROXY']),
    limits: {
      ...d,
      eventsPerSecond: rate,
      eventBurst: 2 * rate,
      registrationsPerAddressPerHour: registrations,
      maxConnections,
      maxConnectionsPerAddress: perAddress,
      unauthenticatedTimeoutMs: unauthenticatedSeconds * 1000,
      retirementMs: retireDays * 86_400_000,
    },
    storage: resolveStorage(flags, env),
  };
}
