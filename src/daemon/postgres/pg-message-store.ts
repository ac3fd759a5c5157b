import type pg from 'pg';
import type {
  AppendResult,
  Delivery,
  GroupAppendOutcome,
  GroupPacket,
  MessageStore,
  Packet,
  PresenceUpdate,
  RecordPage,
  StoredStreamRecord,
} from '../../core/index.js';
import { recordSchema } from '../segment-files.js';
import { DEFAULT_STORAGE_LIMITS, quotaExceeded, type StorageLimits } from '../storage-limits.js';
import { StoreCorruptError } from '../store-corrupt-error.js';
import { OVER_QUOTA } from './pg-append.js';
import { PgGroupCommit, storeBatch, type BatchItem } from './pg-group-commit.js';
import { appendGroupMessage } from './pg-group-append.js';
import {
  CONVERSATION,
  GROUP_CONVERSATION,
  readPage,
  RECORD_COLUMNS,
  SINCE,
  type PacketRow,
} from './pg-pages.js';
import { LIVE_SOCKET } from './pg-socket-registry.js';
import { endBounded, failureCode, guarded } from './pool.js';
import { WalFlush } from './wal-flush.js';

const COLUMNS = RECORD_COLUMNS;

/** Moves a delivery cursor forward under the stream's row lock; no row when it would not move. */
const ACKNOWLEDGE = `
UPDATE streams t SET delivered = LEAST($2::bigint, t.length)
FROM (SELECT identifier, delivered FROM streams WHERE identifier = $1 FOR UPDATE) old
WHERE t.identifier = old.identifier AND LEAST($2::bigint, t.length) > t.delivered
RETURNING old.delivered AS previous, t.delivered AS target`;

const PEERS = `
SELECT a.recipient AS peer FROM contacts a
JOIN contacts b ON b.sender = a.recipient AND b.recipient = a.sender
WHERE a.sender = $1`;

/** A group message's places, [identifier, seq] pairs, as members ascending and their seqs. */
function placesOf(row: PacketRow): { members: string[]; seqs: number[] } {
  const pairs = Array.isArray(row.places) ? (row.places as unknown[]) : [];
  const sorted = pairs
    .map((pair): { member: string; seq: number } =>
      Array.isArray(pair)
        ? { member: String(pair[0]), seq: Number(pair[1]) }
        : { member: '', seq: 0 },
    )
    .sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
  return { members: sorted.map((p) => p.member), seqs: sorted.map((p) => p.seq) };
}

/** A row as a stored record (a group message's with its places), checked by the record schema. */
export function toRecord(row: PacketRow): StoredStreamRecord {
  let packet: unknown;
  try {
    packet = JSON.parse(row.packet);
  } catch (cause) {
    throw new StoreCorruptError('packets', `the packet at ${row.pos} is not JSON`, { cause });
  }
  const base = { pos: Number(row.pos), serverTime: Number(row.server_time), packet };
  const parsed = recordSchema.safeParse(
    row.group_id === null
      ? { ...base, seqFrom: row.seq_from, seqTo: row.seq_to }
      : { ...base, kind: 'group', ...placesOf(row) },
  );
  if (!parsed.success)
    throw new StoreCorruptError('packets', `the packet at ${row.pos} does not match its schema`);
  return parsed.data;
}

/** Whether a failure is the packet id's unique constraint: the packet is stored already. */
function isDuplicateId(error: unknown): boolean {
  return (
    failureCode(error) === '23505' &&
    (error as { constraint?: unknown }).constraint === 'packets_id_key'
  );
}

/**
 * The primary store in PostgreSQL, shared by every daemon on the database. Sends are stored by
 * group commit (PgGroupCommit: one statement and one commit for the sends that arrive together);
 * each append resolves only once the commit that holds it is on disk. The append statement commits
 * without waiting for the WAL flush, so what it stored is visible before it is durable (on any
 * daemon): every read that hands out packets, contacts or a stored record flushes first (`wal`).
 */
export class PgMessageStore implements MessageStore {
  private readonly batches: PgGroupCommit;
  private readonly wal: WalFlush;

  constructor(
    private readonly pool: pg.Pool,
    private readonly limits: StorageLimits = DEFAULT_STORAGE_LIMITS,
  ) {
    this.wal = new WalFlush(pool);
    this.batches = new PgGroupCommit(
      pool,
      [limits.quotaPackets, limits.quotaBytes],
      (item) => this.appendAlone(item),
      () => this.wal.flush(),
    );
  }

  /**
   * Stores the packet, its seqs and its sender's new usage in the statement of its batch: a packet
   * over the sender's quota is refused (`QUOTA_EXCEEDED`) with nothing written, whichever daemon
   * stores it.
   */
  async append(packet: Packet, serverTime: number): Promise<AppendResult> {
    return guarded(() => this.batches.append({ packet, json: JSON.stringify(packet), serverTime }));
  }

  /** One packet in a statement of its own: what a batch left out, or a batch that failed whole. */
  private async appendAlone(item: BatchItem): Promise<AppendResult> {
    const { quotaPackets, quotaBytes } = this.limits;
    try {
      const [stored] = await storeBatch(this.pool, [item], [quotaPackets, quotaBytes]);
      if (stored) {
        await this.wal.flush();
        return stored;
      }
      // Left out: a resend of a stored packet, or else its sender is at its quota.
      const original = await this.stored(item.packet.id);
      if (original) return original;
      throw quotaExceeded(this.limits);
    } catch (error) {
      if (failureCode(error) === OVER_QUOTA) throw quotaExceeded(this.limits);
      if (!isDuplicateId(error)) throw error;
      const original = await this.stored(item.packet.id);
      if (!original) throw error;
      return original;
    }
  }

  /** The stored record of a packet id, as the answer to a resend (durable before it is answered). */
  private async stored(id: string): Promise<AppendResult | undefined> {
    const { rows } = await this.pool.query<PacketRow>(
      `SELECT ${COLUMNS} FROM packets p WHERE id = $1`,
      [id],
    );
    await this.wal.flush();
    const row = rows[0];
    return row ? { record: toRecord(row), duplicate: true } : undefined;
  }

  /**
   * Stores a group message and every member's place in one statement (so one transaction), the
   * sender charged once: `QUOTA_EXCEEDED` past its quota, with nothing written.
   */
  async appendGroup(
    packet: GroupPacket,
    members: readonly string[],
    serverTime: number,
  ): Promise<GroupAppendOutcome> {
    return guarded(async () => {
      const { quotaPackets, quotaBytes } = this.limits;
      try {
        const record = await appendGroupMessage(this.pool, packet, members, serverTime, [
          quotaPackets,
          quotaBytes,
        ]);
        if (record) return { record, duplicate: false };
      } catch (error) {
        if (failureCode(error) === OVER_QUOTA) throw quotaExceeded(this.limits);
        if (!isDuplicateId(error)) throw error;
      }
      // Left out (or beaten by a concurrent store of the same id): the id is stored already.
      const original = await this.stored(packet.id);
      if (!original) throw new StoreCorruptError('packets', 'a stored id has no row');
      return original;
    });
  }

  async groupConversation(
    identifier: string,
    group: string,
    before: number | undefined,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<RecordPage> {
    const page = await this.durable(() =>
      readPage(
        this.pool,
        GROUP_CONVERSATION,
        { identifier, peer: group, seq: before ?? Number.MAX_SAFE_INTEGER, limit, maxBytes },
        toRecord,
      ),
    );
    return { records: [...page.records].reverse(), more: page.more };
  }

  /** Cut by a running sum of record bytes inside the query: bodies are read only for what is returned. */
  async since(
    identifier: string,
    after: number,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<RecordPage> {
    return this.durable(() =>
      readPage(this.pool, SINCE, { identifier, seq: after, limit, maxBytes }, toRecord),
    );
  }

  /** The newest records kept, cut by bytes inside the query as `since` is. */
  async conversation(
    identifier: string,
    peer: string,
    before: number | undefined,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<RecordPage> {
    const page = await this.durable(() =>
      readPage(
        this.pool,
        CONVERSATION,
        { identifier, peer, seq: before ?? Number.MAX_SAFE_INTEGER, limit, maxBytes },
        toRecord,
      ),
    );
    return { records: [...page.records].reverse(), more: page.more };
  }

  /** Contacts come from append statements too: flushed before they decide who learns of presence. */
  async peersOf(identifier: string): Promise<readonly string[]> {
    const { rows } = await this.durable(() =>
      this.pool.query<{ peer: string }>(PEERS, [identifier]),
    );
    return rows.map((row) => row.peer);
  }

  /** A read whose answer may hold what an append statement committed: answered once that is on disk. */
  private durable<T>(read: () => Promise<T>): Promise<T> {
    return guarded(async () => {
      const answer = await read();
      await this.wal.flush();
      return answer;
    });
  }

  /** Moves the cursor, then reads only the ids, senders and seqs it covers: never a packet body. */
  async acknowledge(identifier: string, upTo: number): Promise<readonly Delivery[]> {
    return guarded(async () => {
      const moved = await this.pool.query<{ previous: number; target: number }>(ACKNOWLEDGE, [
        identifier,
        upTo,
      ]);
      const range = moved.rows[0];
      if (!range) return [];
      const { rows } = await this.pool.query<{ id: string; sender: string; seq_from: number }>(
        `SELECT id, sender, seq_from FROM packets
         WHERE recipient = $1 AND recipient <> sender AND seq_to > $2 AND seq_to <= $3
         ORDER BY seq_to`,
        [identifier, range.previous, range.target],
      );
      return rows.map((row) => ({ id: row.id, from: row.sender, seqFrom: row.seq_from }));
    });
  }

  async deliveredUpTo(identifier: string): Promise<number> {
    const { rows } = await guarded(() =>
      this.pool.query<{ delivered: number }>(
        'SELECT delivered FROM streams WHERE identifier = $1',
        [identifier],
      ),
    );
    return rows[0]?.delivered ?? 0;
  }

  async setPresence(update: PresenceUpdate): Promise<void> {
    await guarded(() =>
      this.pool.query(
        `INSERT INTO streams (identifier, last_seen) VALUES ($1, $2)
         ON CONFLICT (identifier) DO UPDATE SET last_seen = EXCLUDED.last_seen`,
        [update.identifier, update.lastSeen],
      ),
    );
  }

  /** Online while a socket of the identifier is on a live daemon (live_sockets, any daemon). */
  async getPresence(identifier: string): Promise<PresenceUpdate | undefined> {
    const { rows } = await guarded(() =>
      this.pool.query<{ last_seen: string | null; online: boolean }>(
        `SELECT s.last_seen, EXISTS (SELECT 1 FROM live_sockets l
           WHERE l.identifier = s.identifier AND ${LIVE_SOCKET('l')}) AS online
         FROM streams s WHERE s.identifier = $1`,
        [identifier],
      ),
    );
    const lastSeen = rows[0]?.last_seen;
    if (lastSeen === null || lastSeen === undefined) return undefined;
    return { identifier, online: rows[0]?.online === true, lastSeen: Number(lastSeen) };
  }

  async size(): Promise<number> {
    const { rows } = await guarded(() =>
      this.pool.query<{ n: string }>('SELECT count(*) AS n FROM packets'),
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Ends the pool; waits on PostgreSQL at most 5 s (a dead server must not hold the relay's stop). */
  async close(): Promise<void> {
    await endBounded(this.pool, 5_000);
  }
}
