import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from './logger.js';

/** The relay's limits; every one is a number a hostile client would like to be unbounded. */
export interface RelayLimits {
  /** Sustained events per second per socket, and the burst above it. */
  readonly eventsPerSecond: number;
  readonly eventBurst: number;
  readonly maxSocketsPerIdentifier: number;
  /** Failed logins per identifier in `loginWindowMs` before it is locked for the rest of the window. */
  readonly loginFailuresPerIdentifier: number;
  readonly loginWindowMs: number;
  /** Failed logins and failed authentications one connection may make before it is dropped. */
  readonly loginFailuresPerConnection: number;
  readonly authFailuresPerConnection: number;
  readonly registrationsPerConnection: number;
  /** Registrations from one client address per hour; reconnecting does not reset it. */
  readonly registrationsPerAddressPerHour: number;
  /** A socket that has not authenticated by then is dropped. */
  readonly unauthenticatedTimeoutMs: number;
}

/** Defaults suited to a personal or small-team relay. */
export const DEFAULT_LIMITS: RelayLimits = {
  eventsPerSecond: 200,
  eventBurst: 400,
  maxSocketsPerIdentifier: 16,
  loginFailuresPerIdentifier: 5,
  loginWindowMs: 15 * 60_000,
  loginFailuresPerConnection: 10,
  authFailuresPerConnection: 3,
  registrationsPerConnection: 3,
  registrationsPerAddressPerHour: 20,
  unauthenticatedTimeoutMs: 5 * 60_000,
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
  readonly limits: RelayLimits;
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
  eventsPerSecond?: string | number | undefined;
  registrationsPerHour?: string | number | undefined;
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

/** Validates options, flags over environment over defaults. */
export function resolveConfig(flags: RawOptions, env: NodeJS.ProcessEnv): DaemonConfig {
  const port = portSchema.safeParse(flags.port ?? env['METACHAT_PORT'] ?? 7373);
  if (!port.success) throw new ConfigError('The port must be a whole number from 0 to 65535.');
  const level = flags.logLevel ?? env['METACHAT_LOG_LEVEL'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`The log level must be one of ${LOG_LEVELS.join(', ')}.`);
  }
  const rate = z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .safeParse(
      flags.eventsPerSecond ?? env['METACHAT_EVENTS_PER_SECOND'] ?? DEFAULT_LIMITS.eventsPerSecond,
    );
  if (!rate.success)
    throw new ConfigError('Events per second must be a whole number from 1 to 1000000.');
  const registrations = z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .safeParse(
      flags.registrationsPerHour ??
        env['METACHAT_REGISTRATIONS_PER_HOUR'] ??
        DEFAULT_LIMITS.registrationsPerAddressPerHour,
    );
  if (!registrations.success)
    throw new ConfigError('Registrations per hour must be a whole number from 1 to 1000000.');
  const postgresUrl = parseStoreUrl(flags.store ?? env['METACHAT_STORE']);
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
    limits: {
      ...DEFAULT_LIMITS,
      eventsPerSecond: rate.data,
      eventBurst: 2 * rate.data,
      registrationsPerAddressPerHour: registrations.data,
    },
  };
}
