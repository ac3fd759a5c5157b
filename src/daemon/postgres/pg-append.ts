import { RECORD_BYTES } from './pg-pages.js';

/** The SQLSTATE that `metachat_within_quota` (migration 3) raises: the sender is over its quota. */
export const OVER_QUOTA = 'MCQ01';

/**
 * Stores a batch of packets in one statement, so in one transaction (docs/storage.md, "How a packet
 * is stored"). $1-$5 are arrays, one element a packet in arrival order: ids (unique in the batch),
 * senders, recipients, server times, packets as JSON text; $6 and $7 the packet and byte quotas.
 *
 * - `fresh` leaves out the packets whose id is stored already, and every packet of a sender whose
 *   usage as last committed leaves no room for the least the batch's packets can weigh (the gate):
 *   they come back without a row, and the caller answers them one by one.
 * - `s` takes, for each identifier, as many places in its stream as the batch needs, locking the
 *   stream rows in identifier order (no deadlock between batches or daemons); each packet gets the
 *   next seqs of its sender's and its recipient's streams in arrival order, so streams stay gapless.
 * - a packet id stored concurrently fails the whole statement (unique index): no seq is taken.
 * - `u` charges each sender (row locked until the commit) and `metachat_within_quota` fails the
 *   whole statement past a quota: no packet, no seq, no charge.
 * - `c` records the contacts; each row says whether it made the contact, whether the recipient had
 *   written to the sender (as this statement sees it: a reply committed meanwhile may be missed,
 *   never invented) and the recipient's delivery cursor.
 */
export const APPEND_BATCH = `
WITH b AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
    WITH ORDINALITY AS b (id, sender, recipient, server_time, packet, n)
), q AS (
  SELECT sender, count(*) AS k,
         sum(55 + length(server_time::text) + octet_length(packet)) AS least
  FROM b GROUP BY sender
), fresh AS (
  SELECT b.* FROM b JOIN q ON q.sender = b.sender
  WHERE NOT EXISTS (SELECT 1 FROM packets x WHERE x.id = b.id)
    AND NOT EXISTS (SELECT 1 FROM usage g WHERE g.identifier = b.sender
      AND (g.packets + q.k > $6::bigint OR g.bytes + q.least > $7::bigint))
), slots AS (
  SELECT sender AS identifier, n FROM fresh
  UNION ALL SELECT recipient, n FROM fresh WHERE recipient <> sender
), need AS (
  SELECT identifier, count(*)::integer AS k FROM slots GROUP BY identifier
), s AS (
  INSERT INTO streams AS t (identifier, length)
  SELECT identifier, k FROM need ORDER BY identifier
  ON CONFLICT (identifier) DO UPDATE SET length = t.length + EXCLUDED.length
  RETURNING identifier, length, delivered
), seqs AS (
  SELECT slots.identifier, slots.n, s.delivered,
         s.length - need.k + row_number() OVER (PARTITION BY slots.identifier ORDER BY slots.n) AS seq
  FROM slots JOIN need USING (identifier) JOIN s USING (identifier)
), p AS (
  INSERT INTO packets (id, sender, recipient, seq_from, seq_to, server_time, packet)
  SELECT f.id, f.sender, f.recipient, a.seq, coalesce(r.seq, a.seq), f.server_time, f.packet
  FROM fresh f JOIN seqs a ON a.n = f.n AND a.identifier = f.sender
  LEFT JOIN seqs r ON r.n = f.n AND r.identifier = f.recipient AND f.recipient <> f.sender
  ORDER BY f.n
  RETURNING id, pos, sender, seq_from, seq_to, ${RECORD_BYTES('packets')} AS bytes
), u AS (
  INSERT INTO usage AS u (identifier, packets, bytes)
  SELECT sender, count(*), sum(bytes) FROM p GROUP BY sender ORDER BY sender
  ON CONFLICT (identifier) DO UPDATE SET packets = u.packets + EXCLUDED.packets, bytes = u.bytes + EXCLUDED.bytes
  RETURNING identifier, packets, bytes
), c AS (
  INSERT INTO contacts (sender, recipient)
  SELECT DISTINCT sender, recipient FROM fresh WHERE sender <> recipient ORDER BY 1, 2
  ON CONFLICT DO NOTHING
  RETURNING sender, recipient
)
SELECT f.n, p.pos, p.seq_from, p.seq_to,
       EXISTS (SELECT 1 FROM c WHERE c.sender = f.sender AND c.recipient = f.recipient) AS first_contact,
       (EXISTS (SELECT 1 FROM contacts k WHERE k.sender = f.recipient AND k.recipient = f.sender)
        OR EXISTS (SELECT 1 FROM fresh g WHERE g.sender = f.recipient AND g.recipient = f.sender)) AS two_way,
       coalesce(r.delivered, 0) AS delivered,
       metachat_within_quota(u.packets, u.bytes, $6::bigint, $7::bigint) AS within
FROM p JOIN fresh f ON f.id = p.id JOIN u ON u.identifier = p.sender
LEFT JOIN seqs r ON r.n = f.n AND r.identifier = f.recipient AND f.recipient <> f.sender`;
