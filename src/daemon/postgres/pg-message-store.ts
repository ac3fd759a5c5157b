import type pg from 'pg';
import type {
  AppendResult,
  Delivery,
  MessageStore,
  Packet,
  PresenceUpdate,
  RecordPage,
  StoredRecord,
} from '../../core/index.js';
import { recordSchema } from '../segment-files.js';
import { StoreCorruptError } from '../store-corrupt-error.js';
import { endBounded, failureCode, guarded } from './pool.js';

interface PacketRow {
  pos: string;
  server_time: string;
  seq_from: number;
  seq_to: number;
  packet: string;
}

const COLUMNS = 'pos, server_time, seq_from, seq_to, packet';

/**
 * Stores a packet and takes the next seq of each stream in one statement, so in one transaction:
 * the stream rows are locked in identifier order (no deadlock between A→B and B→A), and a packet id
 * already stored fails the whole statement, so no seq is taken for it and the streams stay gapless.
 */
const APPEND_TWO = `
WITH s AS (
  INSERT INTO streams AS t (identifier, length) VALUES ($1, 1), ($2, 1)
  ON CONFLICT (identifier) DO UPDATE SET length = t.length + 1
  RETURNING identifier, length
), c AS (
  INSERT INTO contacts (sender, recipient) VALUES ($3, $4) ON CONFLICT DO NOTHING
)
INSERT INTO packets (id, sender, recipient, seq_from, seq_to, server_time, packet)
SELECT $5, $3, $4, (SELECT length FROM s WHERE identifier = $3),
       (SELECT length FROM s WHERE identifier = $4), $6, $7
RETURNING ${COLUMNS}`;

/** The same for a note to self, which takes one place in one stream. */
const APPEND_SELF = `
WITH s AS (
  INSERT INTO streams AS t (identifier, length) VALUES ($1, 1)
  ON CONFLICT (identifier) DO UPDATE SET length = t.length + 1
  RETURNING length
)
INSERT INTO packets (id, sender, recipient, seq_from, seq_to, server_time, packet)
SELECT $2, $1, $1, s.length, s.length, $3, $4 FROM s
RETURNING ${COLUMNS}`;

/** One identifier's stream after a seq: its sent packets by seq_from, its received ones by seq_to. */
const SINCE = `
SELECT ${COLUMNS} FROM (
  (SELECT ${COLUMNS}, seq_from AS seq FROM packets
    WHERE sender = $1 AND seq_from > $2::bigint ORDER BY seq_from LIMIT $3)
  UNION ALL
  (SELECT ${COLUMNS}, seq_to AS seq FROM packets
    WHERE recipient = $1 AND recipient <> sender AND seq_to > $2::bigint ORDER BY seq_to LIMIT $3)
) page ORDER BY seq LIMIT $3`;

/** The newest packets between two identifiers before a seq of the first, newest first. */
const CONVERSATION = `
SELECT ${COLUMNS} FROM (
  (SELECT ${COLUMNS}, seq_from AS seq FROM packets
    WHERE sender = $1 AND recipient = $2 AND seq_from < $3::bigint ORDER BY seq_from DESC LIMIT $4)
  UNION ALL
  (SELECT ${COLUMNS}, seq_to AS seq FROM packets
    WHERE recipient = $1 AND sender = $2 AND recipient <> sender AND seq_to < $3::bigint
    ORDER BY seq_to DESC LIMIT $4)
) page ORDER BY seq DESC LIMIT $4`;

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

function toRecord(row: PacketRow): StoredRecord {
  let packet: unknown;
  try {
    packet = JSON.parse(row.packet);
  } catch (cause) {
    throw new StoreCorruptError('packets', `the packet at ${row.pos} is not JSON`, { cause });
  }
  const parsed = recordSchema.safeParse({
    pos: Number(row.pos),
    serverTime: Number(row.server_time),
    seqFrom: row.seq_from,
    seqTo: row.seq_to,
    packet,
  });
  if (!parsed.success)
    throw new StoreCorruptError('packets', `the packet at ${row.pos} does not match its schema`);
  return parsed.data;
}

/**
 * The longest run of records (from the start, or from the end) whose stored size fits in
 * maxBytes; at least one. Sizes are those of the record's JSON, as the segmented store counts.
 */
function cutToBytes(
  records: readonly StoredRecord[],
  maxBytes: number,
  keep: 'oldest' | 'newest',
): StoredRecord[] {
  const ordered = keep === 'oldest' ? records : [...records].reverse();
  const kept: StoredRecord[] = [];
  let bytes = 0;
  for (const record of ordered) {
    bytes += Buffer.byteLength(JSON.stringify(record));
    if (bytes > maxBytes && kept.length > 0) break;
    kept.push(record);
  }
  return keep === 'oldest' ? kept : kept.reverse();
}

/** Whether a failure is the packet id's unique constraint: the packet is stored already. */
function isDuplicateId(error: unknown): boolean {
  return (
    failureCode(error) === '23505' &&
    (error as { constraint?: unknown }).constraint === 'packets_id_key'
  );
}

/**
 * The primary store in PostgreSQL, shared by every daemon on the database. Each append commits
 * before it resolves; PostgreSQL's own group commit joins the fsyncs of concurrent sends.
 */
export class PgMessageStore implements MessageStore {
  /** Identifiers with a socket on this daemon; presence across daemons is not shared yet. */
  private readonly online = new Set<string>();

  constructor(private readonly pool: pg.Pool) {}

  async append(packet: Packet, serverTime: number): Promise<AppendResult> {
    return guarded(async () => {
      const json = JSON.stringify(packet);
      try {
        const { rows } =
          packet.from === packet.to
            ? await this.pool.query<PacketRow>(APPEND_SELF, [
                packet.from,
                packet.id,
                serverTime,
                json,
              ])
            : await this.pool.query<PacketRow>(APPEND_TWO, [
                packet.from < packet.to ? packet.from : packet.to,
                packet.from < packet.to ? packet.to : packet.from,
                packet.from,
                packet.to,
                packet.id,
                serverTime,
                json,
              ]);
        const row = rows[0];
        if (!row) throw new Error('the append returned no row');
        return { record: toRecord(row), duplicate: false };
      } catch (error) {
        if (!isDuplicateId(error)) throw error;
        const { rows } = await this.pool.query<PacketRow>(
          `SELECT ${COLUMNS} FROM packets WHERE id = $1`,
          [packet.id],
        );
        const row = rows[0];
        if (!row) throw error;
        return { record: toRecord(row), duplicate: true };
      }
    });
  }

  async since(
    identifier: string,
    after: number,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<RecordPage> {
    const { rows } = await guarded(() =>
      this.pool.query<PacketRow>(SINCE, [identifier, after, limit + 1]),
    );
    const all = rows.slice(0, limit).map(toRecord);
    const records = cutToBytes(all, maxBytes, 'oldest');
    return { records, more: rows.length > limit || records.length < all.length };
  }

  async conversation(
    identifier: string,
    peer: string,
    before: number | undefined,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<RecordPage> {
    const { rows } = await guarded(() =>
      this.pool.query<PacketRow>(CONVERSATION, [
        identifier,
        peer,
        before ?? Number.MAX_SAFE_INTEGER,
        limit + 1,
      ]),
    );
    const all = rows.slice(0, limit).map(toRecord).reverse();
    const records = cutToBytes(all, maxBytes, 'newest');
    return { records, more: rows.length > limit || records.length < all.length };
  }

  async peersOf(identifier: string): Promise<readonly string[]> {
    const { rows } = await guarded(() => this.pool.query<{ peer: string }>(PEERS, [identifier]));
    return rows.map((row) => row.peer);
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
    if (update.online) this.online.add(update.identifier);
    else this.online.delete(update.identifier);
  }

  async getPresence(identifier: string): Promise<PresenceUpdate | undefined> {
    const { rows } = await guarded(() =>
      this.pool.query<{ last_seen: string | null }>(
        'SELECT last_seen FROM streams WHERE identifier = $1',
        [identifier],
      ),
    );
    const lastSeen = rows[0]?.last_seen;
    if (lastSeen === null || lastSeen === undefined) return undefined;
    return { identifier, online: this.online.has(identifier), lastSeen: Number(lastSeen) };
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
