import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { registerAccount, type Account } from '../../src/cli/relay/account.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import {
  isGroupRecord,
  sealPacket,
  type Body,
  type Packet,
  type StoredPacket,
} from '../../src/core/index.js';
import { DEFAULT_LIMITS, type RelayLimits } from '../../src/daemon/config.js';
import { DEFAULT_STORAGE_LIMITS, type StorageLimits } from '../../src/daemon/storage-limits.js';
import { startRelay, type Relay } from '../../src/daemon/relay.js';
import { databaseFor, testStore } from './test-store.js';

/** A fresh private temp directory for one test's data. */
export async function tempDir(prefix = 'metachat-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A real relay on a random loopback port with its own temp data directory. */
export interface TestRelay {
  readonly relay: Relay;
  readonly url: string;
  readonly dataDir: string;
  /** The database it stores in, in the postgres project (one per data directory). */
  readonly postgresUrl: string | undefined;
  /** Closes the relay (and deletes the data directory unless `keep`). */
  stop(keep?: boolean): Promise<void>;
}

/**
 * Starts a relay in this process, silent, on 127.0.0.1 with port 0, on the store of this jest
 * project: the data directory, or in the postgres project a database standing for it.
 */
export async function startTestRelay(
  options: {
    dataDir?: string;
    port?: number;
    limits?: Partial<RelayLimits>;
    trustProxy?: readonly string[];
    /** Where the relay logs (default: nowhere). */
    logger?: Logger;
    storage?: Partial<StorageLimits>;
  } = {},
): Promise<TestRelay> {
  const dataDir = options.dataDir ?? (await tempDir());
  const postgresUrl = testStore() === 'postgres' ? await databaseFor(dataDir) : undefined;
  const relay = await startRelay(
    {
      host: '127.0.0.1',
      port: options.port ?? 0,
      dataDir,
      postgresUrl,
      logLevel: 'silent',
      allowedOrigins: [],
      trustProxy: options.trustProxy ?? [],
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      storage: { ...DEFAULT_STORAGE_LIMITS, ...options.storage },
    },
    options.logger ?? pino({ level: 'silent' }),
  );
  return {
    relay,
    url: relay.url,
    dataDir,
    postgresUrl,
    async stop(keep = false) {
      await relay.close();
      if (!keep) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A registered, authenticated user with a live connection. */
export interface TestUser extends Account {
  readonly client: RelayClient;
  readonly password: string;
}

/** Registers and authenticates a user over a real socket.io-client connection. */
export async function newUser(
  url: string,
  username: string,
  password = 'correct horse battery',
): Promise<TestUser> {
  const client = await RelayClient.connect(url);
  const account = await registerAccount(client, username, password);
  await client.authenticate(account.identifier, account.keyPair.privateKey);
  return { ...account, client, password };
}

/** Opens another authenticated connection (a second device) for an existing user. */
export async function secondDevice(url: string, user: Account): Promise<RelayClient> {
  const client = await RelayClient.connect(url);
  await client.authenticate(user.identifier, user.keyPair.privateKey);
  return client;
}

/** Seals a text from one user to another. */
export function sealText(from: Account, to: Account, text: string): Packet {
  const body: Body = { v: 1, type: 'text', text };
  return sealPacket({
    sender: { identifier: from.identifier, keyPair: from.keyPair },
    recipient: { identifier: to.identifier, publicKey: to.keyPair.publicKey },
    body,
  });
}

/** A logger whose JSON lines a test can read back. */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        lines.push(line);
      },
    },
  );
  return {
    logger,
    lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** Collects the packets pushed to a client (group messages are not collected), and waits for a given number of them. */
export function collectPackets(client: RelayClient): {
  packets: StoredPacket[];
  waitFor(count: number, ms?: number): Promise<StoredPacket[]>;
} {
  const packets: StoredPacket[] = [];
  const waiters: (() => void)[] = [];
  client.on('packet', (stored) => {
    if (isGroupRecord(stored)) return;
    packets.push(stored);
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    packets,
    async waitFor(count, ms = 5000) {
      const deadline = Date.now() + ms;
      while (packets.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} pushed packets, got ${packets.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return packets;
    },
  };
}
