import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { pino } from 'pino';
import type { MessageStore, Packet } from '../../src/core/index.js';
import { migrate } from '../../src/daemon/postgres/migrate.js';
import { PgMessageStore } from '../../src/daemon/postgres/pg-message-store.js';
import { createPool } from '../../src/daemon/postgres/pool.js';
import { SegmentedStore } from '../../src/daemon/segmented-store.js';
import { DEFAULT_STORAGE_LIMITS, type StorageLimits } from '../../src/daemon/storage-limits.js';
import { sharedPostgres } from '../support/postgres-server.js';
import { testStore } from '../support/test-store.js';
import { tempDir } from '../support/relay-harness.js';
import { packetRecordsOf } from '../support/records.js';

/**
 * Quotas and reads that cost what they return, on the store of this jest project: the segmented
 * store in a temp dir (lowdb), or PgMessageStore on a fresh database (postgres).
 */
const kind = testStore();
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

/** A packet as the store sees it (the relay checked the signature before): `ctBytes` of body. */
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

/** A store under test, where it lives (a data dir or a database URL), and what it has read of packet bodies. */
interface Opened {
  readonly where: string;
  readonly store: MessageStore;
  /** lowdb: bytes read from segment files; postgres: buffer accesses to the packets' TOAST table. */
  bodyReads(): Promise<number>;
}

/**
 * Opens this project's store with the given limits, on `where` again after a restart. On PostgreSQL
 * the pool has one connection, so that its statistics can be flushed on demand (bodyReads).
 */
async function open(
  limits: Partial<StorageLimits> = {},
  segmentSize = 4,
  where?: string,
  connections = 16,
): Promise<Opened> {
  const full = { ...DEFAULT_STORAGE_LIMITS, ...limits };
  if (kind === 'postgres') {
    const url = where ?? (await (await sharedPostgres()).createDatabase());
    const pool = createPool(url, pino({ level: 'silent' }), connections);
    await migrate(pool);
    return { where: url, store: new PgMessageStore(pool, full), bodyReads: () => toastReads(pool) };
  }
  const dir = where ?? (await tempDir());
  if (!where) dirs.push(dir);
  const store = await SegmentedStore.open(dir, segmentSize, full);
  return { where: dir, store, bodyReads: () => Promise.resolve(store.readCounter.bytes) };
}

/**
 * Buffer accesses to the TOAST table of `packets` (where bodies above 2 KB live) so far, counting
 * those of the pool's one backend: pg_stat_force_next_flush makes it publish them at once.
 */
async function toastReads(pool: pg.Pool): Promise<number> {
  await pool.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await pool.query<{ n: string | null }>(
    `SELECT coalesce(toast_blks_read, 0) + coalesce(toast_blks_hit, 0) AS n
     FROM pg_statio_user_tables WHERE relname = 'packets'`,
  );
  return Number(rows[0]?.n ?? 0);
}

async function codeOf(run: Promise<unknown>): Promise<string> {
  return run.then(
    () => 'stored',
    (error: unknown) => (error as { code?: string }).code ?? String(error),
  );
}

/** Bytes of a record as the store keeps it: its JSON line. */
function recordBytes(record: object): number {
  return Buffer.byteLength(JSON.stringify(record));
}

describe('per-user quotas', () => {
  it('count packets against the sender only, a note to self once, and survive a restart', async () => {
    const { where, store } = await open({ quotaPackets: 6 });
    await store.append(packet(A, A), 1); // a note to self: one packet of A's quota
    for (let i = 0; i < 5; i++) await store.append(packet(A, B), 1);
    const kept = packet(A, B);
    expect(await codeOf(store.append(kept, 1))).toBe('QUOTA_EXCEEDED');
    // B received six packets from A and has sent none: B's own sends are not affected.
    for (let i = 0; i < 6; i++) expect(await codeOf(store.append(packet(B, A), 1))).toBe('stored');
    expect(await codeOf(store.append(packet(B, C), 1))).toBe('QUOTA_EXCEEDED');
    await store.close();
    // Rebuilt at start from sealed segments (offsets) and the journal alike.
    const again = await open({ quotaPackets: 6 }, 4, where);
    expect(await codeOf(again.store.append(packet(A, C), 1))).toBe('QUOTA_EXCEEDED');
    expect(await codeOf(again.store.append(packet(C, A), 1))).toBe('stored');
    await again.store.close();
  });

  it('still acknowledges a resend of a stored packet at the quota, and cannot be overshot by one batch', async () => {
    const { store } = await open({ quotaPackets: 3 }, 16);
    const first = packet(A, B);
    await store.append(first, 1);
    const codes = await Promise.all(
      Array.from({ length: 10 }, () => codeOf(store.append(packet(A, B), 1))),
    );
    expect(codes.filter((code) => code === 'stored')).toHaveLength(2);
    expect(codes.filter((code) => code === 'QUOTA_EXCEEDED')).toHaveLength(8);
    expect(await store.append(first, 1)).toMatchObject({ duplicate: true });
    expect(await store.size()).toBe(3);
    await store.close();
  });

  it('count the bytes of what each sender stored', async () => {
    const probe = await open();
    const { record } = await probe.store.append(packet(A, B, 3000), 1);
    await probe.store.close();
    const { store } = await open({ quotaBytes: 2 * recordBytes(record) + 1500 });
    expect(await codeOf(store.append(packet(A, B, 3000), 1))).toBe('stored');
    expect(await codeOf(store.append(packet(A, B, 3000), 1))).toBe('stored');
    expect(await codeOf(store.append(packet(A, B, 3000), 1))).toBe('QUOTA_EXCEEDED');
    expect(await codeOf(store.append(packet(A, B, 32), 1))).toBe('stored');
    await store.close();
  });
});

// The floor is the data directory's; postgres-limits.test.ts covers the database's full disk.
if (kind === 'lowdb')
  describe('the free-space floor', () => {
    it('refuses every new packet with STORAGE_FULL before writing a byte', async () => {
      const { where: dir, store } = await open({ minFreeBytes: 2 ** 52 });
      expect(await codeOf(store.append(packet(A, B), 1))).toBe('STORAGE_FULL');
      expect(await codeOf(store.append(packet(B, A), 1))).toBe('STORAGE_FULL');
      expect(await store.size()).toBe(0);
      expect(await readdir(join(dir, 'segments'))).toEqual([]);
      await store.close();
    });
  });

if (kind === 'lowdb')
  describe('a start', () => {
    it('writes nothing to a data directory it can read as it is', async () => {
      const { where: dir, store } = await open({}, 4);
      for (let i = 0; i < 10; i++) await store.append(packet(A, B), 1);
      await store.setPresence({ identifier: A, online: false, lastSeen: 5 });
      await store.close();
      const snapshot = async () => {
        const out: string[] = [];
        for (const sub of ['', 'segments']) {
          for (const name of (await readdir(join(dir, sub))).sort()) {
            const info = await stat(join(dir, sub, name));
            if (info.isFile())
              out.push(`${sub}/${name} ${String(info.size)} ${String(info.mtimeMs)}`);
          }
        }
        return out;
      };
      const before = await snapshot();
      const again = await open({}, 4, dir);
      expect((await again.store.since(B, 0, 100)).records).toHaveLength(10);
      await again.store.close();
      expect(await snapshot()).toEqual(before);
    });
  });

describe('reads that cost what they return', () => {
  /**
   * 256 large records (about 7 KB each; lowdb: in four sealed segments of 64): a's to b, c's notes
   * between; reopened, so nothing is cached in memory. On PostgreSQL each body lives in TOAST.
   */
  async function largeStore(): Promise<Opened> {
    const first = await open({}, 64, undefined, 1);
    for (let i = 0; i < 256; i++)
      await first.store.append(i % 4 === 3 ? packet(C, C, 5000) : packet(A, B, 5000), 1);
    await first.store.close();
    return open({}, 64, first.where, 1);
  }

  /** What reading the whole of b's stream costs, per record: the yardstick for PostgreSQL. */
  async function perRecordOfWhole(opened: Opened): Promise<number> {
    const before = await opened.bodyReads();
    const whole = await opened.store.since(B, 0, 500);
    expect(whole.records).toHaveLength(192);
    return ((await opened.bodyReads()) - before) / whole.records.length;
  }

  it('cuts a sync page by bytes before reading, and reads only the records it returns', async () => {
    const opened = await largeStore();
    const { store } = opened;
    const before = await opened.bodyReads();
    const page = await store.since(B, 0, 500, 200_000);
    const read = (await opened.bodyReads()) - before;
    const returned = page.records.reduce((sum, record) => sum + recordBytes(record), 0);
    expect(page.more).toBe(true);
    expect(page.records.length).toBeGreaterThan(10);
    expect(page.records.length).toBeLessThan(192);
    expect(returned).toBeLessThanOrEqual(200_000);
    // One more record would not have fitted: the cut is by the records' real sizes.
    const next = await store.since(B, packetRecordsOf(page.records).at(-1)?.seqTo ?? 0, 1);
    expect(returned + recordBytes(next.records[0] ?? {})).toBeGreaterThan(200_000);
    if (kind === 'lowdb') {
      // Neighbours are read in one run, with the one-byte separator between them.
      expect(read).toBeGreaterThanOrEqual(returned);
      expect(read).toBeLessThanOrEqual(returned + page.records.length);
    } else {
      // Bodies fetched for the page's records only: per returned record, what a whole read costs.
      expect(read).toBeGreaterThan(0);
      expect(read / page.records.length).toBeLessThanOrEqual(
        1.5 * (await perRecordOfWhole(opened)),
      );
    }
    await store.close();
  });

  it('cuts a history page the same way, keeping the newest', async () => {
    const opened = await largeStore();
    const { store } = opened;
    const before = await opened.bodyReads();
    const page = await store.conversation(B, A, undefined, 500, 100_000);
    const read = (await opened.bodyReads()) - before;
    const returned = page.records.reduce((sum, record) => sum + recordBytes(record), 0);
    expect(page.more).toBe(true);
    expect(packetRecordsOf(page.records).at(-1)?.seqTo).toBe(192);
    expect(returned).toBeLessThanOrEqual(100_000);
    const seqs = packetRecordsOf(page.records).map((record) => record.seqTo);
    expect(seqs).toEqual(seqs.map((_, i) => 192 - seqs.length + 1 + i));
    if (kind === 'lowdb') expect(read).toBeLessThanOrEqual(returned + page.records.length);
    else
      expect(read / page.records.length).toBeLessThanOrEqual(
        1.5 * (await perRecordOfWhole(opened)),
      );
    await store.close();
  });

  it('moves the delivery cursor over a whole stream without reading a packet', async () => {
    const opened = await largeStore();
    const { store } = opened;
    const before = await opened.bodyReads();
    const covered = await store.acknowledge(B, 10_000);
    expect((await opened.bodyReads()) - before).toBe(0);
    expect(covered).toHaveLength(192);
    expect(covered[0]).toEqual({ id: expect.any(String), from: A, seqFrom: 1 });
    expect(await store.deliveredUpTo(B)).toBe(192);
    await store.close();
  });
});
