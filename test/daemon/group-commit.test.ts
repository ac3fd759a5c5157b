import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { pino } from 'pino';
import type { AppendResult, MessageStore, Packet } from '../../src/core/index.js';
import { migrate } from '../../src/daemon/postgres/migrate.js';
import { PgMessageStore } from '../../src/daemon/postgres/pg-message-store.js';
import { createPool } from '../../src/daemon/postgres/pool.js';
import { SegmentedStore } from '../../src/daemon/segmented-store.js';
import { DEFAULT_STORAGE_LIMITS, type StorageLimits } from '../../src/daemon/storage-limits.js';
import { sharedPostgres, startPostgres } from '../support/postgres-server.js';
import { tempDir } from '../support/relay-harness.js';
import { testStore } from '../support/test-store.js';
import { asPacketRecord, packetRecordsOf } from '../support/records.js';

/**
 * What an append tells the relay of its conversation (first contact, two-way, the recipient's
 * cursor), on the store of this jest project; and, on PostgreSQL, group commit: sends stored
 * together in one statement, each answered as if alone.
 */
const kind = testStore();
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const D = 'd'.repeat(64);

function packet(from: string, to: string, id = randomBytes(16).toString('hex')): Packet {
  return {
    v: 1,
    id,
    from,
    to,
    time: Date.now(),
    iv: randomBytes(12).toString('base64'),
    ct: randomBytes(32).toString('base64'),
    keyTo: randomBytes(256).toString('base64'),
    keyFrom: randomBytes(256).toString('base64'),
    sig: randomBytes(256).toString('base64'),
  };
}

/** This project's store; on PostgreSQL also its pool and how many batch statements it ran. */
async function open(limits: Partial<StorageLimits> = {}): Promise<{
  store: MessageStore;
  url?: string;
  batches: () => number;
}> {
  const full = { ...DEFAULT_STORAGE_LIMITS, ...limits };
  if (kind === 'postgres') {
    const url = await (await sharedPostgres()).createDatabase();
    const pool = createPool(url, pino({ level: 'silent' }));
    await migrate(pool);
    let batches = 0;
    // Counted on every connection of the pool: a batch runs on a client of its own (BEGIN, the
    // statement, COMMIT), a packet stored alone through the pool's query.
    const counted = new WeakSet<object>();
    pool.on('acquire', (client) => {
      if (counted.has(client)) return;
      counted.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
        if ((args[0] as { name?: string } | null)?.name === 'metachat-append-batch') batches++;
        return query(...args);
      };
    });
    return { store: new PgMessageStore(pool, full), url, batches: () => batches };
  }
  const dir = await tempDir();
  dirs.push(dir);
  return { store: await SegmentedStore.open(dir, 4, full), batches: () => 0 };
}

async function codeOf(run: Promise<unknown>): Promise<string> {
  return run.then(
    () => 'stored',
    (error: unknown) => (error as { code?: string }).code ?? String(error),
  );
}

/** Every identifier's stream numbered 1, 2, 3, … with no gap. */
async function gapless(store: MessageStore, identifiers: readonly string[]): Promise<void> {
  for (const identifier of identifiers) {
    const { records } = await store.since(identifier, 0, 1000);
    const seqs = packetRecordsOf(records).map((r) =>
      r.packet.from === identifier ? r.seqFrom : r.seqTo,
    );
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  }
}

describe('what an append says of its conversation', () => {
  it('names the first contact once, a two-way conversation only once both have written, and the cursor', async () => {
    const { store } = await open();
    const first = await store.append(packet(A, B), 1);
    expect(first.pair).toEqual({ firstContact: true, twoWay: false, delivered: 0 });
    expect((await store.append(packet(A, B), 2)).pair).toEqual({
      firstContact: false,
      twoWay: false,
      delivered: 0,
    });
    expect((await store.append(packet(B, A), 3)).pair).toMatchObject({
      firstContact: true,
      twoWay: true,
    });
    await store.acknowledge(B, 3);
    expect((await store.append(packet(A, B), 4)).pair).toEqual({
      firstContact: false,
      twoWay: true,
      delivered: 3,
    });
    // A note to self has no conversation; a resend is no new contact.
    expect((await store.append(packet(A, A), 5)).pair).toBeUndefined();
    const again = await store.append(asPacketRecord(first.record).packet, 6);
    expect(again).toMatchObject({ duplicate: true });
    expect(again.pair).toBeUndefined();
    // Sends in both directions at once: each is a first contact, so the relay introduces them
    // (after the commit, reading the contacts again), even where neither append saw the other.
    const both = await Promise.all([store.append(packet(C, D), 7), store.append(packet(D, C), 8)]);
    expect(both.map((r) => r.pair?.firstContact)).toEqual([true, true]);
    expect(await store.peersOf(C)).toEqual([D]);
    await store.close();
  });
});

if (kind === 'postgres')
  describe('group commit on PostgreSQL', () => {
    it('stores concurrent sends in far fewer statements than packets, gapless, each acknowledged once', async () => {
      const { store, batches } = await open();
      const users = [A, B, C, D];
      const packets = Array.from({ length: 400 }, (_, i) =>
        packet(users[i % 4] as string, users[(i * 3 + 1) % 4] as string),
      );
      const results = await Promise.all(packets.map((p, i) => store.append(p, i)));
      expect(results.every((r) => !r.duplicate)).toBe(true);
      expect(new Set(results.map((r) => r.record.pos)).size).toBe(400);
      expect(batches()).toBeLessThan(40);
      await gapless(store, users);
      // Each sender's packets hold its seqs in the order they were sent, across batches (the next
      // batch's statement runs while the one before commits, and waits on its stream rows).
      for (const user of users) {
        const seqs = results
          .filter((r) => r.record.packet.from === user)
          .map((r) => asPacketRecord(r.record).seqFrom);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
      // Each answer is what is stored, and the stored packet is the one sent.
      for (const [i, result] of results.entries()) {
        const { records } = await store.since(
          result.record.packet.from,
          asPacketRecord(result.record).seqFrom - 1,
          1,
        );
        expect(records[0]).toEqual(result.record);
        expect(records[0]?.packet).toEqual(packets[i]);
      }
      await store.close();
    }, 60_000);

    it('answers a resend queued with its first send the same, as a duplicate, and another sender reusing an id with the stored record', async () => {
      const { store, batches } = await open();
      const first = packet(A, B);
      const thief = { ...packet(C, B), id: first.id };
      const [original, resend, stolen] = await Promise.all([
        store.append(first, 1),
        store.append(first, 2),
        store.append(thief, 3),
      ]);
      expect(batches()).toBeGreaterThanOrEqual(1);
      expect(original.duplicate).toBe(false);
      expect(resend).toEqual({ record: original.record, duplicate: true });
      // The relay refuses this one (PACKET_ID_TAKEN): the stored record is A's, not C's.
      expect(stolen).toEqual({ record: original.record, duplicate: true });
      expect(await store.size()).toBe(1);
      const later = await store.append(first, 4);
      expect(later).toEqual({ record: original.record, duplicate: true });
      await gapless(store, [A, B, C]);
      await store.close();
    });

    it('answers resends that arrive while their batch is committing, or after, as duplicates of the one stored', async () => {
      const { store } = await open();
      const packets = Array.from({ length: 200 }, (_, i) => packet(i % 2 ? A : B, i % 2 ? B : A));
      const firsts = packets.map((p, i) => store.append(p, i));
      // Each resend a little later than its first send: in the same batch, in the next one while
      // the first commits, or once it is stored.
      const resends = packets.map(
        (p, i) =>
          new Promise<AppendResult>((resolve, reject) => {
            setTimeout(() => void store.append(p, i).then(resolve, reject), i % 7);
          }),
      );
      const original = await Promise.all(firsts);
      const again = await Promise.all(resends);
      expect(original.every((r) => !r.duplicate)).toBe(true);
      expect(again).toEqual(original.map((r) => ({ record: r.record, duplicate: true })));
      expect(await store.size()).toBe(200);
      await gapless(store, [A, B]);
      await store.close();
    }, 60_000);

    it('does not fail the other packets of a batch: a sender at its quota and a packet PostgreSQL refuses are answered alone', async () => {
      const { store, url } = await open({ quotaPackets: 3 });
      // C can store nothing at all: any charge to C fails its statement, as a real failure would.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(
        `ALTER TABLE usage ADD CONSTRAINT test_fails CHECK (identifier <> '${C}' OR packets < 1)`,
      );
      const sends: [string, string][] = [
        ...Array.from({ length: 5 }, (): [string, string] => [A, B]),
        ...Array.from({ length: 2 }, (): [string, string] => [C, D]),
        ...Array.from({ length: 3 }, (): [string, string] => [B, A]),
        [D, C],
      ];
      const codes = await Promise.all(
        sends.map(([from, to], i) => codeOf(store.append(packet(from, to), i))),
      );
      // A stores up to its quota and no further; C's packets fail alone; B and D are untouched.
      expect(codes.slice(0, 5).sort()).toEqual([
        'QUOTA_EXCEEDED',
        'QUOTA_EXCEEDED',
        'stored',
        'stored',
        'stored',
      ]);
      expect(codes.slice(5, 7)).toEqual(['STORE_FAILED', 'STORE_FAILED']);
      expect(codes.slice(7)).toEqual(['stored', 'stored', 'stored', 'stored']);
      const { rows } = await admin.query<{ identifier: string; length: number }>(
        'SELECT identifier, length FROM streams ORDER BY identifier',
      );
      expect(rows.map((row) => [row.identifier, row.length])).toEqual([
        [A, 6],
        [B, 6],
        [C, 1],
        [D, 1],
      ]);
      await gapless(store, [A, B, C, D]);
      await admin.query('ALTER TABLE usage DROP CONSTRAINT test_fails');
      expect(await codeOf(store.append(packet(C, D), 20))).toBe('stored');
      await admin.end();
      await store.close();
    }, 60_000);

    it('fails every send of a batch that got no answer (PostgreSQL killed under it), and stores their resends once', async () => {
      const own = await startPostgres();
      const url = await own.createDatabase();
      const pool = createPool(url, pino({ level: 'silent' }));
      await migrate(pool);
      const store = new PgMessageStore(pool);
      await store.append(packet(A, B), 0);
      // The batch waits on a lock, so it is in flight when the server dies.
      const admin = new pg.Client({ connectionString: url });
      admin.on('error', () => undefined);
      await admin.connect();
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE usage IN ACCESS EXCLUSIVE MODE');
      // More than one batch holds: the first runs in a transaction of its own (a send waits behind it).
      const packets = Array.from({ length: 300 }, (_, i) => packet(i % 2 ? A : B, i % 2 ? B : A));
      const pending = packets.map((p, i) => codeOf(store.append(p, i)));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await own.kill();
      expect(await Promise.all(pending)).toEqual(packets.map(() => 'STORE_FAILED'));
      await own.start();
      const resent: AppendResult[] = await Promise.all(packets.map((p, i) => store.append(p, i)));
      expect(resent.every((r) => !r.duplicate)).toBe(true);
      expect(await store.size()).toBe(301);
      await gapless(store, [A, B]);
      await store.close();
      await own.stop();
    }, 60_000);
  });
