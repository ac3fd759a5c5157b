import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import type { Packet } from '../../src/core/index.js';
import { ConfigError, resolveConfig } from '../../src/daemon/config.js';
import { DEFAULT_STORAGE_LIMITS } from '../../src/daemon/storage-limits.js';
import { migrate, SchemaTooNewError } from '../../src/daemon/postgres/migrate.js';
import { MIGRATIONS } from '../../src/daemon/postgres/migrations.js';
import { PgMessageStore } from '../../src/daemon/postgres/pg-message-store.js';
import { createPool } from '../../src/daemon/postgres/pool.js';
import { captureAsyncError } from '../support/capture-error.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { newUser, sealText, startTestRelay } from '../support/relay-harness.js';
import { packetRecordsOf, packetsOf } from '../support/records.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const silent = pino({ level: 'silent' });
let server: PostgresServer;

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await server.stop();
});

function runDaemon(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/daemon/main.ts'), ...args],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('migrations', () => {
  it('applies every migration once, also from `metachat-daemon migrate` alone', async () => {
    const url = await server.createDatabase();
    const first = await runDaemon(['migrate', '--store', url]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      `applied migrations ${MIGRATIONS.map((m) => m.version).join(', ')}`,
    );
    expect(first.stdout).not.toContain('postgres@');
    const again = await runDaemon(['migrate', '--store', url]);
    expect(again.stdout).toContain('is up to date');
    const pool = createPool(url, silent, 1);
    expect(await migrate(pool)).toEqual([]);
    await pool.end();
  }, 60_000);

  it('refuses a database migrated by a newer build', async () => {
    const pool = createPool(await server.createDatabase(), silent, 1);
    await migrate(pool);
    await pool.query(`INSERT INTO metachat_migrations (version, name) VALUES (999, 'future')`);
    expect(await captureAsyncError(() => migrate(pool))).toBeInstanceOf(SchemaTooNewError);
    await pool.end();
  });

  it('takes only postgres:// URLs for --store', () => {
    expect(() => resolveConfig({ store: 'mysql://db/x' }, {})).toThrow(ConfigError);
    expect(() => resolveConfig({ store: 'not a url' }, {})).toThrow(ConfigError);
    expect(resolveConfig({}, { METACHAT_STORE: 'postgres://u@h/db' }).postgresUrl).toBe(
      'postgres://u@h/db',
    );
  });
});

describe('the PostgreSQL store', () => {
  it('keeps both streams gapless under concurrent sends both ways and concurrent resends', async () => {
    const relay = await startTestRelay({});
    const alice = await newUser(relay.url, 'pg-alice');
    const bob = await newUser(relay.url, 'pg-bob');
    await relay.stop();
    const pool = createPool(await server.createDatabase(), silent);
    await migrate(pool);
    const store = new PgMessageStore(pool);
    const packets = Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0 ? sealText(alice, bob, `a${i}`) : sealText(bob, alice, `b${i}`),
    );
    const results = await Promise.all(
      [...packets, ...packets.slice(0, 20)].map((packet, i) => store.append(packet, 1000 + i)),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(60);
    for (const stream of [alice.identifier, bob.identifier]) {
      const page = await store.since(stream, 0, 500);
      const seqs = packetRecordsOf(page.records).map((r) =>
        r.packet.from === stream ? r.seqFrom : r.seqTo,
      );
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
    const first = packets[0];
    if (!first) throw new Error('no packets');
    const again = await store.append(first, 5);
    expect(again.duplicate).toBe(true);
    expect(again.record).toEqual(results[0]?.record);
    expect(await store.size()).toBe(60);
    expect(await store.peersOf(alice.identifier)).toEqual([bob.identifier]);
    await store.close();
  }, 60_000);

  it('answers STORE_FAILED while PostgreSQL is down, stays up, and stores the resend once it is back', async () => {
    const own = await startPostgres();
    const url = await own.createDatabase();
    const { startRelay } = await import('../../src/daemon/relay.js');
    const { DEFAULT_LIMITS } = await import('../../src/daemon/config.js');
    const daemon = await startRelay(
      {
        host: '127.0.0.1',
        port: 0,
        dataDir: '/nonexistent',
        postgresUrl: url,
        logLevel: 'silent',
        allowedOrigins: [],
        limits: DEFAULT_LIMITS,
        storage: DEFAULT_STORAGE_LIMITS,
      },
      silent,
    );
    const carol = await newUser(daemon.url, 'pg-carol');
    const packet = sealText(carol, carol, 'while the database is down');
    await own.kill();
    const refused = await captureAsyncError(() => carol.client.send(packet));
    expect((refused as { code?: string }).code).toBe('STORE_FAILED');
    await own.start();
    const ack = await carol.client.send(packet);
    expect(ack).toMatchObject({ seq: 1, duplicate: false });
    expect(packetsOf((await carol.client.sync(0)).packets).map((p) => p.packet.id)).toEqual([
      packet.id,
    ]);
    carol.client.close();
    await daemon.close();
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    const { rows } = await check.query<{ n: string }>('SELECT count(*) AS n FROM packets');
    expect(rows[0]?.n).toBe('1');
    await check.end();
    await own.stop();
  }, 60_000);

  it('leaves nothing running when it cannot listen: its daemon row, heartbeat and pool are gone', async () => {
    const url = await server.createDatabase();
    const { startRelay } = await import('../../src/daemon/relay.js');
    const { DEFAULT_LIMITS } = await import('../../src/daemon/config.js');
    const config = (port: number) => ({
      host: '127.0.0.1',
      port,
      dataDir: '/nonexistent',
      postgresUrl: url,
      logLevel: 'silent' as const,
      allowedOrigins: [],
      limits: DEFAULT_LIMITS,
      storage: DEFAULT_STORAGE_LIMITS,
    });
    const first = await startRelay(config(0), silent);
    const taken = Number(new URL(first.url).port);
    // The listen error comes from node's own realm, so it is not an Error of this test's realm.
    const refused: unknown = await startRelay(config(taken), silent).then(
      (relay) => relay,
      (error: unknown) => error,
    );
    expect((refused as { code?: unknown }).code).toBe('EADDRINUSE');
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    const daemons = async () =>
      Number((await check.query<{ n: string }>('SELECT count(*) AS n FROM daemons')).rows[0]?.n);
    const sessions = async () =>
      Number(
        (
          await check.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'metachat-daemon%'",
          )
        ).rows[0]?.n,
      );
    // Only the first daemon is registered; the refused one took its row away.
    expect(await daemons()).toBe(1);
    await first.close();
    expect(await daemons()).toBe(0);
    // And no connection of either stays open (a leaked pool or heartbeat would keep one).
    const deadline = Date.now() + 5_000;
    while ((await sessions()) > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await sessions()).toBe(0);
    await check.end();
  }, 60_000);

  it('keeps every answered append when PostgreSQL is killed right after the answers (the batch commits without waiting for the WAL, its answers wait for the flush)', async () => {
    const own = await startPostgres();
    const url = await own.createDatabase();
    let pool = createPool(url, silent);
    await migrate(pool);
    let store = new PgMessageStore(pool);
    const [a, b] = ['a', 'b'].map((c) => c.repeat(64)) as [string, string];
    const packet = (i: number): Packet => ({
      v: 1,
      id: randomBytes(16).toString('hex'),
      from: i % 2 === 0 ? a : b,
      to: i % 2 === 0 ? b : a,
      time: Date.now(),
      iv: randomBytes(12).toString('base64'),
      ct: randomBytes(32).toString('base64'),
      keyTo: randomBytes(256).toString('base64'),
      keyFrom: randomBytes(256).toString('base64'),
      sig: randomBytes(256).toString('base64'),
    });
    // Several rounds of concurrent sends, PostgreSQL killed as soon as the last answer came: an
    // answer given before the WAL reached the disk would be lost with the server's memory.
    const answered: string[] = [];
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.append(packet(i), 1000 + i)),
      );
      answered.push(...results.map((r) => r.record.packet.id));
    }
    await own.kill();
    await store.close();
    await own.start();
    pool = createPool(url, silent);
    store = new PgMessageStore(pool);
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM packets');
    expect(new Set(rows.map((row) => row.id))).toEqual(new Set(answered));
    const seqs = packetRecordsOf((await store.since(a, 0, 500)).records).map((r) =>
      r.packet.from === a ? r.seqFrom : r.seqTo,
    );
    expect(seqs).toEqual(answered.map((_, i) => i + 1));
    await store.close();
    await own.stop();
  }, 90_000);
});
