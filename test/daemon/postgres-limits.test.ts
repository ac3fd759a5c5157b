import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import type { Packet } from '../../src/core/index.js';
import { migrate } from '../../src/daemon/postgres/migrate.js';
import { MIGRATIONS } from '../../src/daemon/postgres/migrations.js';
import { PgMessageStore } from '../../src/daemon/postgres/pg-message-store.js';
import { createPool } from '../../src/daemon/postgres/pool.js';
import { DEFAULT_STORAGE_LIMITS, type StorageLimits } from '../../src/daemon/storage-limits.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { asPacketRecord } from '../support/records.js';

/**
 * The PostgreSQL store's limits where they differ from the embedded store's: quotas held across
 * daemons (two stores on two pools, as two daemons), appends that fail midway, a full disk under
 * the database (a tmpfs tablespace of the test's own, as root).
 */
const silent = pino({ level: 'silent' });
let server: PostgresServer;
const stores: PgMessageStore[] = [];

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const store of stores) await store.close().catch(() => undefined);
  await server.stop();
});

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

function packet(from: string, to: string, ctBytes = 32): Packet {
  return {
    v: 1,
    id: randomBytes(16).toString('hex'),
    from,
    to,
    time: Date.now(),
    iv: randomBytes(12).toString('base64'),
    ct: randomBytes(ctBytes).toString('base64'),
    keyTo: randomBytes(256).toString('base64'),
    keyFrom: randomBytes(256).toString('base64'),
    sig: randomBytes(256).toString('base64'),
  };
}

async function openStore(
  url: string,
  limits: Partial<StorageLimits> = {},
): Promise<PgMessageStore> {
  const pool = createPool(url, silent);
  await migrate(pool);
  const store = new PgMessageStore(pool, { ...DEFAULT_STORAGE_LIMITS, ...limits });
  stores.push(store);
  return store;
}

async function codeOf(run: Promise<unknown>): Promise<string> {
  return run.then(
    () => 'stored',
    (error: unknown) => (error as { code?: string }).code ?? String(error),
  );
}

/**
 * Every invariant an append must keep, checked in SQL: each stream's length is its last seq and its
 * seqs are 1..length, usage is what the packets add up to (the backfill of migration 3).
 */
async function consistent(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const streams = await client.query<{ identifier: string; length: number; seqs: string }>(
      `SELECT s.identifier, s.length, (
         SELECT count(*) FROM packets p WHERE (p.sender = s.identifier AND p.seq_from <= s.length)
           OR (p.recipient = s.identifier AND p.recipient <> p.sender AND p.seq_to <= s.length)
       ) AS seqs FROM streams s`,
    );
    for (const row of streams.rows) expect(Number(row.seqs)).toBe(row.length);
    const backfill = MIGRATIONS.find((m) => m.version === 3)?.sql ?? '';
    const recount = backfill.slice(
      backfill.indexOf('SELECT sender'),
      backfill.indexOf(';', backfill.indexOf('SELECT sender')),
    );
    const expected = await client.query(`${recount} ORDER BY 1`);
    const actual = await client.query('SELECT identifier, packets, bytes FROM usage ORDER BY 1');
    expect(actual.rows.map(Object.values)).toEqual(expected.rows.map(Object.values));
  } finally {
    await client.end();
  }
}

describe('quotas on PostgreSQL', () => {
  it('hold across two daemons sending for one user at once', async () => {
    const url = await server.createDatabase();
    const one = await openStore(url, { quotaPackets: 7 });
    const two = await openStore(url, { quotaPackets: 7 });
    const codes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        codeOf((i % 2 === 0 ? one : two).append(packet(A, i % 3 === 0 ? A : B), 1)),
      ),
    );
    expect(codes.filter((code) => code === 'stored')).toHaveLength(7);
    expect(codes.filter((code) => code === 'QUOTA_EXCEEDED')).toHaveLength(33);
    expect(await one.size()).toBe(7);
    // b's own sends are b's quota, untouched by what a sent to b.
    expect(await codeOf(two.append(packet(B, A), 1))).toBe('stored');
    await consistent(url);
  }, 60_000);

  it('count bytes on the updated row too: two daemons cannot both take the last bytes', async () => {
    const url = await server.createDatabase();
    const probe = await openStore(url);
    const { record } = await probe.append(packet(B, A, 3000), 1);
    const size = Buffer.byteLength(JSON.stringify(record));
    const one = await openStore(url, { quotaBytes: 3 * size + 100 });
    const two = await openStore(url, { quotaBytes: 3 * size + 100 });
    const codes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        codeOf((i % 2 ? one : two).append(packet(A, B, 3000), 1)),
      ),
    );
    expect(codes.filter((code) => code === 'stored')).toHaveLength(3);
    await consistent(url);
  }, 60_000);
});

describe('an append that fails midway', () => {
  it('leaves nothing half-stored: no packet, no seq, no charge; the resend takes the next seq', async () => {
    const url = await server.createDatabase();
    const store = await openStore(url);
    await store.append(packet(A, B), 1);
    await store.append(packet(B, A), 1);
    // A real failure in the statement's last step (charging the sender), after the streams and
    // the packet were written: the whole statement must roll back.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('ALTER TABLE usage ADD CONSTRAINT test_fails CHECK (packets < 2)');
    const refused = packet(A, B);
    expect(await codeOf(store.append(refused, 1))).toBe('STORE_FAILED');
    const { rows } = await admin.query<{ length: number }>('SELECT length FROM streams ORDER BY 1');
    expect(rows.map((row) => row.length)).toEqual([2, 2]);
    await consistent(url);
    await admin.query('ALTER TABLE usage DROP CONSTRAINT test_fails');
    await admin.end();
    const again = await store.append(refused, 2);
    expect(again).toMatchObject({ duplicate: false, record: { seqFrom: 3, seqTo: 3 } });
    await consistent(url);
  }, 60_000);
});

/** The uid and gid PostgreSQL runs as in the tests when they run as root (postgres-server.ts). */
async function nobody(): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8'))
    .split('\n')
    .find((l) => l.startsWith('nobody:'));
  const fields = line?.split(':') ?? [];
  return { uid: Number(fields[2] ?? 65534), gid: Number(fields[3] ?? 65534) };
}

// Mounting a tmpfs needs root (as CI runs); without it this one test is not defined.
if (process.getuid?.() === 0)
  describe('a full disk under the database', () => {
    it('refuses sends with STORAGE_FULL, keeps every stored packet readable and whole, and takes the resend once there is room', async () => {
      const mount = await mkdtemp(join(tmpdir(), 'metachat-pg-disk-'));
      const mounted = spawnSync('mount', [
        '-t',
        'tmpfs',
        '-o',
        'size=4m,mode=0700',
        'tmpfs',
        mount,
      ]);
      expect(mounted.status).toBe(0);
      const url = await server.createDatabase();
      const admin = new pg.Client({ connectionString: url });
      try {
        const owner = await nobody();
        await chown(mount, owner.uid, owner.gid);
        await admin.connect();
        const store = await openStore(url);
        await admin.query(`CREATE TABLESPACE small LOCATION '${mount}'`);
        await admin.query('ALTER TABLE ALL IN TABLESPACE pg_default SET TABLESPACE small');
        await admin.query('ALTER INDEX ALL IN TABLESPACE pg_default SET TABLESPACE small');
        let refused: { packet: Packet; code: string } | undefined;
        let stored = 0;
        for (let i = 0; i < 1000 && !refused; i++) {
          const next = packet(i % 2 ? A : B, i % 2 ? B : A, 30_000);
          const code = await codeOf(store.append(next, 1));
          if (code === 'stored') stored++;
          else refused = { packet: next, code };
        }
        expect(refused?.code).toBe('STORAGE_FULL');
        expect(stored).toBeGreaterThan(10);
        // Reads still work, and nothing of the refused packet is anywhere.
        const pageA = await store.since(A, 0, 1000);
        const pageB = await store.since(B, 0, 1000);
        expect(pageA.records).toHaveLength(stored);
        expect(pageB.records.map((r) => r.packet.id)).toEqual(
          pageA.records.map((r) => r.packet.id),
        );
        await consistent(url);
        // The operator grows the disk: the same packet is stored with the next seq.
        expect(spawnSync('mount', ['-o', 'remount,size=16m', mount]).status).toBe(0);
        const resend = refused?.packet ?? packet(A, B);
        const again = await store.append(resend, 2);
        expect(again.duplicate).toBe(false);
        expect(asPacketRecord(again.record).seqFrom).toBe(stored + 1);
        await consistent(url);
        await store.close();
        stores.splice(stores.indexOf(store), 1);
        await admin.query('ALTER TABLE ALL IN TABLESPACE small SET TABLESPACE pg_default');
        await admin.query('ALTER INDEX ALL IN TABLESPACE small SET TABLESPACE pg_default');
      } finally {
        await admin.end().catch(() => undefined);
        const maintenance = new pg.Client({ connectionString: server.url });
        await maintenance.connect();
        await maintenance.query('DROP TABLESPACE IF EXISTS small').catch(() => undefined);
        await maintenance.end();
        spawnSync('umount', ['-l', mount]);
        await rm(mount, { recursive: true, force: true });
      }
    }, 120_000);
  });
