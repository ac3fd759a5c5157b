import { RECORD_BYTES } from './pg-pages.js';

/** The SQLSTATE that `metachat_within_quota` (migration 3) raises: the sender is over its quota. */
export const OVER_QUOTA = 'MCQ01';

/** What a row of APPEND_BATCH is: a stored packet, or a stream the batch took places in. */
export const ROW_PACKET = 0;
export const ROW_STREAM = 1;
/** Never returned (the quota function raises instead of answering false); it makes `u` be read. */
const ROW_UNCHARGED = 2;

/**
 * Stores a batch of packets in one statement, so in one transaction (docs/storage.md, "How a packet
 * is stored"). $1-$5 are arrays, one element a packet in arrival order: ids (unique in the batch),
 * senders, recipients, server times, packets as JSON text; $6 and $7 the packet and byte quotas.
 * Every step is a scan, a sort or a hash over the batch (never a join of the batch with itself row
 * by row), so a batch of 256 costs per packet what a batch of 8 does.
 *
 * - `nowait` commits this statement's transaction without waiting for the WAL flush
 *   (`synchronous_commit` off for it alone), so its row locks are released at once and the next
 *   batch need not wait for this one's disk. Its packets are visible before they are durable:
 *   nothing read from it may be acknowledged or handed out before `WalFlush.flush()` returned.
 *
 * - `fresh` leaves out the packets whose id is stored already, and every packet of a sender whose
 *   usage as last committed leaves no room for the least the batch's packets can weigh (`blocked`):
 *   they come back without a row, and the caller answers them one by one.
 * - `slots` lists each packet's places (its sender's stream, role 0, and unless it is to itself
 *   its recipient's, role 1) ranked per stream in arrival order; `s` takes, for each identifier, as
 *   many places in its stream as the batch needs, locking the stream rows in identifier order (no
 *   deadlock between batches or daemons); `seqs` gives each place the stream's new length less the
 *   places taken plus its rank, so each packet gets the next seqs of both streams and they stay
 *   gapless. `places` puts a packet's two seqs (and its columns) on one row again.
 * - a packet id stored concurrently fails the whole statement (unique index): no seq is taken.
 * - `u` charges each sender (row locked until the commit) and `metachat_within_quota` fails the
 *   whole statement past a quota: no packet, no seq, no charge.
 * - `c` records the contacts; each packet row says whether it made the contact and whether the
 *   recipient had written to the sender (as this statement sees it: a reply committed meanwhile may
 *   be missed, never invented); each stream row gives its identifier's delivery cursor.
 */
export const APPEND_BATCH = `
WITH nowait AS MATERIALIZED (
  SELECT set_config('synchronous_commit', 'off', true) AS setting
), b AS (
  SELECT b.* FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
    WITH ORDINALITY AS b (id, sender, recipient, server_time, packet, n) CROSS JOIN nowait
), blocked AS (
  SELECT q.sender FROM (
    SELECT sender, count(*) AS k, sum(55 + length(server_time::text) + octet_length(packet)) AS least
    FROM b GROUP BY sender
  ) q JOIN usage g ON g.identifier = q.sender
  WHERE g.packets + q.k > $6::bigint OR g.bytes + q.least > $7::bigint
), fresh AS (
  SELECT b.* FROM b
  WHERE NOT EXISTS (SELECT 1 FROM packets x WHERE x.id = b.id)
    AND b.sender NOT IN (SELECT sender FROM blocked)
), slots AS (
  SELECT x.*, row_number() OVER (PARTITION BY identifier ORDER BY n) AS k,
         count(*) OVER (PARTITION BY identifier) AS need
  FROM (
    SELECT sender AS identifier, n, 0 AS role, id, sender, recipient, server_time, packet FROM fresh
    UNION ALL
    SELECT recipient, n, 1, NULL, NULL, NULL, NULL, NULL FROM fresh WHERE recipient <> sender
  ) x
), s AS (
  INSERT INTO streams AS t (identifier, length)
  SELECT identifier, need FROM slots WHERE k = 1 ORDER BY identifier
  ON CONFLICT (identifier) DO UPDATE SET length = t.length + EXCLUDED.length
  RETURNING identifier, length, delivered
), seqs AS (
  SELECT y.*, k - max(need) OVER w + max(len) OVER w AS seq
  FROM (
    SELECT identifier, n, role, id, sender, recipient, server_time, packet, k, need,
           NULL::integer AS len
    FROM slots
    UNION ALL
    SELECT identifier, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, length FROM s
  ) y
  WINDOW w AS (PARTITION BY identifier)
), places AS (
  SELECT n, max(id) AS id, max(sender) AS sender, max(recipient) AS recipient,
         max(server_time) AS server_time, max(packet) AS packet,
         max(seq) FILTER (WHERE role = 0) AS seq_from,
         coalesce(max(seq) FILTER (WHERE role = 1), max(seq) FILTER (WHERE role = 0)) AS seq_to
  FROM seqs WHERE n IS NOT NULL GROUP BY n
), p AS (
  INSERT INTO packets (id, sender, recipient, seq_from, seq_to, server_time, packet)
  SELECT id, sender, recipient, seq_from, seq_to, server_time, packet FROM places ORDER BY n
  RETURNING id, pos, sender, recipient, seq_from, seq_to, ${RECORD_BYTES('packets')} AS bytes
), u AS (
  INSERT INTO usage AS u (identifier, packets, bytes)
  SELECT sender, count(*), sum(bytes) FROM p GROUP BY sender ORDER BY sender
  ON CONFLICT (identifier) DO UPDATE SET packets = u.packets + EXCLUDED.packets, bytes = u.bytes + EXCLUDED.bytes
  RETURNING metachat_within_quota(u.packets, u.bytes, $6::bigint, $7::bigint) AS within
), c AS (
  INSERT INTO contacts (sender, recipient)
  SELECT DISTINCT sender, recipient FROM fresh WHERE sender <> recipient ORDER BY 1, 2
  ON CONFLICT DO NOTHING
  RETURNING sender, recipient
)
SELECT ${ROW_PACKET} AS kind, p.id, p.pos, p.seq_from, p.seq_to,
       (p.sender, p.recipient) IN (SELECT sender, recipient FROM c) AS first_contact,
       (EXISTS (SELECT 1 FROM contacts k WHERE k.sender = p.recipient AND k.recipient = p.sender)
        OR (p.recipient, p.sender) IN (SELECT sender, recipient FROM fresh)) AS two_way,
       NULL AS delivered
FROM p
UNION ALL
SELECT ${ROW_STREAM}, identifier, NULL, NULL, NULL, NULL, NULL, delivered FROM s
UNION ALL
SELECT ${ROW_UNCHARGED}, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM u WHERE NOT within`;
