import type pg from 'pg';
import { z } from 'zod';
import type { GroupPacket, StoredGroupRecord } from '../../core/index.js';
import { StoreCorruptError } from '../store-corrupt-error.js';
import { RECORD_BYTES } from './pg-pages.js';

/**
 * Stores one group message in one statement, so in one transaction (docs/storage.md, "How a group
 * message is stored"). $1 the members at its head (ascending, the sender among them), $2 its id,
 * $3 its sender, $4 the server time, $5 its JSON, $6 the group id, $7 the bytes the members'
 * places add to the record, $8 and $9 the packet and byte quotas.
 *
 * - `gate` leaves everything out when the id is stored already (the caller answers the resend);
 *   an id stored concurrently fails the whole statement (unique index).
 * - `s` takes the next place in every member's stream, locking the stream rows in identifier
 *   order as the packet batch does (no deadlock between the two or between daemons).
 * - `p` is the one copy, at the sender's place; `gp` the other members' places.
 * - `u` charges the sender once and `metachat_within_quota` fails the whole statement past a
 *   quota: no message, no place, no charge.
 */
const APPEND_GROUP = `
WITH gate AS (
  SELECT 1 AS ok WHERE NOT EXISTS (SELECT 1 FROM packets x WHERE x.id = $2)
), s AS (
  INSERT INTO streams AS t (identifier, length)
  SELECT m, 1 FROM unnest($1::text[]) AS m, gate ORDER BY m
  ON CONFLICT (identifier) DO UPDATE SET length = t.length + 1
  RETURNING identifier, length
), p AS (
  INSERT INTO packets (id, sender, recipient, seq_from, seq_to, server_time, packet, group_id)
  SELECT $2, $3, $3, s.length, s.length, $4, $5, $6 FROM s WHERE s.identifier = $3
  RETURNING pos, ${RECORD_BYTES('packets')} + $7::bigint AS bytes
), gp AS (
  INSERT INTO group_places (identifier, seq, group_id, pos)
  SELECT s.identifier, s.length, $6, p.pos FROM s, p WHERE s.identifier <> $3
), u AS (
  INSERT INTO usage AS u (identifier, packets, bytes)
  SELECT $3, 1, p.bytes FROM p
  ON CONFLICT (identifier) DO UPDATE SET packets = u.packets + 1, bytes = u.bytes + EXCLUDED.bytes
  RETURNING packets, bytes
)
SELECT p.pos, s.identifier, s.length AS seq,
       metachat_within_quota(u.packets, u.bytes, $8::bigint, $9::bigint) AS within
FROM p, s, u`;

const rowSchema = z.object({
  pos: z.coerce.number().int().min(0),
  identifier: z.string(),
  seq: z.number().int().min(1),
});

/**
 * What the members' places add to a group message's record over a packet's, as the embedded
 * store writes it (`"kind":"group","members":[…],"seqs":[…]` less the two seqs): so a quota
 * counts about the same bytes on both stores.
 */
function placesBytes(members: readonly string[]): number {
  return GROUP_PLACES_BASE_BYTES + members.length * GROUP_PLACE_BYTES;
}

/** The fixed part of placesBytes, and what each member adds (import-lowdb charges the same). */
export const GROUP_PLACES_BASE_BYTES = 40;
export const GROUP_PLACE_BYTES = 75;

/**
 * Stores a group message with a place in every member's stream; resolves to its record once
 * committed, or undefined when its id was stored already. Rejects when PostgreSQL refused the
 * statement (rolled back whole: a quota, a concurrent store of the id, a full disk).
 */
export async function appendGroupMessage(
  pool: pg.Pool,
  packet: GroupPacket,
  members: readonly string[],
  serverTime: number,
  [quotaPackets, quotaBytes]: readonly [number, number],
): Promise<StoredGroupRecord | undefined> {
  const { rows } = await pool.query<Record<string, unknown>>({
    name: 'metachat-append-group',
    text: APPEND_GROUP,
    values: [
      members,
      packet.id,
      packet.from,
      serverTime,
      JSON.stringify(packet),
      packet.group,
      placesBytes(members),
      quotaPackets,
      quotaBytes,
    ],
  });
  if (rows.length === 0) return undefined;
  const seqOf = new Map<string, number>();
  let pos: number | undefined;
  for (const raw of rows) {
    const row = rowSchema.safeParse(raw);
    if (!row.success || (pos !== undefined && row.data.pos !== pos)) {
      throw new StoreCorruptError('group_places', 'a stored group message row is malformed');
    }
    pos = row.data.pos;
    seqOf.set(row.data.identifier, row.data.seq);
  }
  const seqs = members.map((member) => seqOf.get(member));
  if (pos === undefined || seqs.some((seq) => seq === undefined)) {
    throw new StoreCorruptError('group_places', 'a group message lacks a member’s place');
  }
  return {
    kind: 'group',
    pos,
    serverTime,
    members: [...members],
    seqs: seqs.map((seq) => seq ?? 0),
    packet,
  };
}
