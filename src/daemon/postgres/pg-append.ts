import { RECORD_BYTES, RECORD_COLUMNS } from './pg-pages.js';

/** The SQLSTATE that `metachat_within_quota` (migration 3) raises: the sender is over its quota. */
export const OVER_QUOTA = 'MCQ01';

/** The parameters of a quota check: packets allowed, least bytes of the record, bytes allowed. */
type Quota = readonly [string, string, string];

/**
 * Skips the whole append, writing nothing, when the sender's usage (as last committed) already
 * leaves no room for the least this record can weigh.
 * Only a shortcut for a sender at its quota; the check that holds under concurrency is the last one.
 */
const GATE = (sender: string, [packets, least, bytes]: Quota) => `gate AS (
  SELECT NOT EXISTS (SELECT 1 FROM usage WHERE identifier = ${sender}
    AND (packets + 1 > ${packets}::bigint OR bytes + ${least}::bigint > ${bytes}::bigint)) AS open
)`;

/**
 * Charges the stored record to its sender and checks the quota on the updated row, all in the
 * statement that stores the packet: the usage row is locked by the update until the commit, so two
 * daemons storing for one sender at once are counted one after the other, and a statement that
 * would take the sender over its quota fails whole (`OVER_QUOTA`): no packet, no seq, no charge.
 */
const CHARGE = (sender: string, [packets, , bytes]: Quota) => `u AS (
  INSERT INTO usage AS u (identifier, packets, bytes) SELECT ${sender}, 1, p.bytes FROM p
  ON CONFLICT (identifier) DO UPDATE SET packets = u.packets + 1, bytes = u.bytes + EXCLUDED.bytes
  RETURNING packets, bytes
)
SELECT p.pos, p.server_time, p.seq_from, p.seq_to, p.packet,
       metachat_within_quota(u.packets, u.bytes, ${packets}::bigint, ${bytes}::bigint) AS within
FROM p, u`;

/**
 * Stores a packet and takes the next seq of each stream in one statement, so in one transaction:
 * the stream rows are locked in identifier order (no deadlock between A→B and B→A), and a packet id
 * already stored fails the whole statement, so no seq is taken for it and the streams stay gapless.
 * $1 < $2 are the two identifiers, $3 the sender, $4 the recipient, $5 the id, $6 the server time,
 * $7 the packet, $8-$10 the quota. No row: the gate was shut.
 */
export const APPEND_TWO = `
WITH ${GATE('$3', ['$8', '$9', '$10'])}, s AS (
  INSERT INTO streams AS t (identifier, length)
  SELECT v.identifier, 1 FROM (VALUES ($1::text), ($2::text)) v (identifier), gate WHERE gate.open
  ON CONFLICT (identifier) DO UPDATE SET length = t.length + 1
  RETURNING identifier, length
), c AS (
  INSERT INTO contacts (sender, recipient) SELECT $3, $4 FROM gate WHERE gate.open
  ON CONFLICT DO NOTHING
), p AS (
  INSERT INTO packets (id, sender, recipient, seq_from, seq_to, server_time, packet)
  SELECT $5, $3, $4, (SELECT length FROM s WHERE identifier = $3),
         (SELECT length FROM s WHERE identifier = $4), $6, $7 FROM gate WHERE gate.open
  RETURNING ${RECORD_COLUMNS}, ${RECORD_BYTES('packets')} AS bytes
), ${CHARGE('$3', ['$8', '$9', '$10'])}`;

/** The same for a note to self, which takes one place in one stream: $1 the identifier, $2 the id, $3 the server time, $4 the packet, $5-$7 the quota. */
export const APPEND_SELF = `
WITH ${GATE('$1', ['$5', '$6', '$7'])}, s AS (
  INSERT INTO streams AS t (identifier, length) SELECT $1, 1 FROM gate WHERE gate.open
  ON CONFLICT (identifier) DO UPDATE SET length = t.length + 1
  RETURNING length
), p AS (
  INSERT INTO packets (id, sender, recipient, seq_from, seq_to, server_time, packet)
  SELECT $2, $1, $1, s.length, s.length, $3, $4 FROM s
  RETURNING ${RECORD_COLUMNS}, ${RECORD_BYTES('packets')} AS bytes
), ${CHARGE('$1', ['$5', '$6', '$7'])}`;

/**
 * The least a record of a packet's JSON can weigh (every number one digit but the server time's),
 * for the gate: never more than what CHARGE will count, so the gate never refuses what fits.
 */
export function leastRecordBytes(packetJson: string, serverTime: number): number {
  return 52 + 3 + String(serverTime).length + Buffer.byteLength(packetJson);
}
