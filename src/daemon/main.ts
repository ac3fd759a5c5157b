import { Command, Option } from 'commander';
import { ConfigError, parseStoreUrl, resolveConfig, type RawOptions } from './config.js';
import { importCommand } from './import-command.js';
import { createLogger, flushLogger } from './logger.js';
import { ImportSourceError } from './lowdb-source.js';
import { ImportTargetNotEmptyError, ImportVerifyError } from './postgres/import-lowdb.js';
import { migrate, SchemaTooNewError } from './postgres/migrate.js';
import { createPool, describeUrl } from './postgres/pool.js';
import { startRelay } from './relay.js';
import { StoreCorruptError } from './store-corrupt-error.js';

const program = new Command('metachat-daemon')
  .description(
    'The MetaChat relay: stores and forwards end-to-end encrypted packets it cannot read.',
  )
  .addOption(
    new Option('--host <address>', 'address to listen on (env METACHAT_HOST)').default(
      undefined,
      '127.0.0.1',
    ),
  )
  .addOption(
    new Option('--port <number>', 'port to listen on, 0 for any (env METACHAT_PORT)').default(
      undefined,
      '7373',
    ),
  )
  .addOption(
    new Option('--data <dir>', 'data directory (env METACHAT_DATA)').default(undefined, './data'),
  )
  .addOption(
    new Option(
      '--store <url>',
      'postgres://user@host/db: store in PostgreSQL, shared by several daemons (env METACHAT_STORE)',
    ),
  )
  .addOption(
    new Option('--log-level <level>', 'log level on stderr (env METACHAT_LOG_LEVEL)').default(
      undefined,
      'info',
    ),
  )
  .addOption(
    new Option(
      '--events-per-second <n>',
      'per-connection request rate limit (env METACHAT_EVENTS_PER_SECOND)',
    ).default(undefined, '200'),
  )
  .addOption(
    new Option(
      '--registrations-per-hour <n>',
      'registrations one client address may make per hour (env METACHAT_REGISTRATIONS_PER_HOUR)',
    ).default(undefined, '20'),
  )
  .addOption(
    new Option(
      '--retire-days <n>',
      "days a deleted account's identifier cannot be registered again (env METACHAT_RETIRE_DAYS)",
    ).default(undefined, '365'),
  )
  .addOption(
    new Option(
      '--max-connections <n>',
      'open connections in total (env METACHAT_MAX_CONNECTIONS)',
    ).default(undefined, '4096'),
  )
  .addOption(
    new Option(
      '--max-connections-per-address <n>',
      'open connections from one client address, IPv6 by /64 (env METACHAT_MAX_CONNECTIONS_PER_ADDRESS)',
    ).default(undefined, '64'),
  )
  .addOption(
    new Option(
      '--unauthenticated-timeout <seconds>',
      'how long a connection may stay unauthenticated (env METACHAT_UNAUTHENTICATED_TIMEOUT)',
    ).default(undefined, '60'),
  )
  .addOption(
    new Option(
      '--trust-proxy <addresses>',
      'comma-separated proxy addresses or CIDR ranges whose X-Forwarded-For is used (env METACHAT_TRUST_PROXY)',
    ),
  )
  .addOption(
    new Option(
      '--quota-bytes <size>',
      'bytes of stored packets one user may send, e.g. 256m (env METACHAT_QUOTA_BYTES)',
    ).default(undefined, '256m'),
  )
  .addOption(
    new Option(
      '--quota-packets <n>',
      'stored packets one user may send (env METACHAT_QUOTA_PACKETS)',
    ).default(undefined, '250000'),
  )
  .addOption(
    new Option(
      '--min-free-bytes <size>',
      'free disk below which every send is refused, e.g. 64m (env METACHAT_MIN_FREE_BYTES)',
    ).default(undefined, '64m'),
  )
  .addOption(
    new Option(
      '--allow-origin <origin...>',
      'browser origins allowed to connect (env METACHAT_ALLOW_ORIGIN)',
    ),
  )
  .showHelpAfterError()
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : 2);
  })
  .action(async () => {
    await serve(program.opts<RawOptions>());
  });

program
  .command('migrate')
  .description(
    'applies the PostgreSQL schema migrations, then exits (the daemon also does at start)',
  )
  .addOption(new Option('--store <url>', 'postgres://user@host/db (env METACHAT_STORE)'))
  .action(async (options: { store?: string }) => {
    await migrateOnly(options.store ?? program.opts<RawOptions>().store);
  });

program
  .command('import-lowdb')
  .description(
    "moves a stopped relay's data directory into an empty PostgreSQL database (one transaction, verified by counts and a checksum; the directory is only read)",
  )
  .argument('<dir>', 'the data directory (--data) of the relay to move')
  .addOption(new Option('--store <url>', 'postgres://user@host/db (env METACHAT_STORE)'))
  .action(async (dir: string, options: { store?: string }) => {
    await importCommand(dir, options.store ?? program.opts<RawOptions>().store);
  });

async function migrateOnly(store: string | undefined): Promise<void> {
  const url = parseStoreUrl(store ?? process.env['METACHAT_STORE']);
  if (url === undefined) throw new ConfigError('migrate needs --store postgres://user@host/db.');
  const logger = createLogger('silent');
  const pool = createPool(url, logger, 1);
  try {
    const applied = await migrate(pool);
    process.stdout.write(
      applied.length > 0
        ? `metachat-daemon: applied migrations ${applied.join(', ')} to ${describeUrl(url)}\n`
        : `metachat-daemon: ${describeUrl(url)} is up to date\n`,
    );
  } finally {
    await pool.end();
  }
}

async function serve(options: RawOptions): Promise<void> {
  const config = resolveConfig(options, process.env);
  const logger = createLogger(config.logLevel);
  const relay = await startRelay(config, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'signal', signal }, 'shutting down');
    relay.close().then(
      async () => {
        await flushLogger(logger);
        process.exit(0);
      },
      async (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        await flushLogger(logger);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
  // Announced only once the signals are handled: a supervisor that stops the relay the moment it
  // says it listens gets a clean stop, not the default action of SIGTERM.
  process.stdout.write(`metachat-daemon listening on ${relay.url} (${relay.where})\n`);
}

program.parseAsync().catch((error: unknown) => {
  const known =
    error instanceof ConfigError ||
    error instanceof StoreCorruptError ||
    error instanceof SchemaTooNewError ||
    error instanceof ImportSourceError ||
    error instanceof ImportTargetNotEmptyError ||
    error instanceof ImportVerifyError;
  const message = known
    ? error.message
    : `could not start: ${error instanceof Error ? error.message : String(error)}`;
  process.stderr.write(`metachat-daemon: ${message}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
