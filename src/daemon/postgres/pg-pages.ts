import type pg from 'pg';
import type { RecordPage, StoredStreamRecord } from '../../core/index.js';

/**
 * The bytes of a packet row's record as the embedded store keeps it, its JSON
 * `{"pos":…,"serverTime":…,"seqFrom":…,"seqTo":…,"packet":…}`: 52 bytes of keys and punctuation,
 * the four numbers' digits and the packet's JSON. `octet_length` of a TOASTed value reads its
 * header only, never the body. Migration 3 backfills `usage` with the same expression.
 */
export const RECORD_BYTES = (table: string) =>
  `(52 + length(${table}.pos::text) + length(${table}.server_time::text) + length(${table}.seq_from::text)` +
  ` + length(${table}.seq_to::text) + octet_length(${table}.packet))`;

/**
 * The columns a record is made of, from `packets` aliased `p`: a group message's row adds its
 * group id and every member's place, [identifier, seq] pairs (its sender's is the row's own seq).
 */
export const RECORD_COLUMNS = `p.pos, p.server_time, p.seq_from, p.seq_to, p.packet, p.group_id,
  CASE WHEN p.group_id IS NULL THEN NULL ELSE (
    SELECT json_agg(json_build_array(x.identifier, x.seq)) FROM (
      SELECT g.identifier, g.seq FROM group_places g WHERE g.pos = p.pos
      UNION ALL SELECT p.sender, p.seq_from) x) END AS places`;

/** A packet row as the queries return it. */
export interface PacketRow {
  pos: string;
  server_time: string;
  seq_from: number;
  seq_to: number;
  packet: string;
  group_id: string | null;
  places: unknown;
}

/**
 * Cuts a page of candidates (`pos`, `seq`, `bytes`; at most limit + 1) by a running sum of their
 * bytes, then joins only the rows kept back to `packets`: bodies are read for what is returned.
 * $4 is the limit, $5 the byte budget; `total` is how many candidates there were.
 */
function cutByBytes(candidates: string, order: 'ASC' | 'DESC'): string {
  return `
WITH page AS (${candidates}), run AS (
  SELECT pos, seq, row_number() OVER w AS n, sum(bytes) OVER w AS upto, count(*) OVER () AS total
  FROM page WINDOW w AS (ORDER BY seq ${order} ROWS UNBOUNDED PRECEDING)
)
SELECT ${RECORD_COLUMNS}, run.total
FROM run JOIN packets p ON p.pos = run.pos
WHERE run.n <= $4 AND (run.n = 1 OR run.upto <= $5::bigint)
ORDER BY run.seq ${order}`;
}

/** One identifier's stream after a seq: its sent packets by seq_from, its received ones by seq_to. */
export const SINCE = cutByBytes(
  `SELECT pos, seq, bytes FROM (
    (SELECT pos, seq_from AS seq, ${RECORD_BYTES('packets')} AS bytes FROM packets
      WHERE sender = $1 AND seq_from > $2::bigint ORDER BY seq_from LIMIT $3)
    UNION ALL
    (SELECT pos, seq_to AS seq, ${RECORD_BYTES('packets')} AS bytes FROM packets
      WHERE recipient = $1 AND recipient <> sender AND seq_to > $2::bigint ORDER BY seq_to LIMIT $3)
    UNION ALL
    (SELECT g.pos, g.seq, ${RECORD_BYTES('p')} AS bytes FROM group_places g
      JOIN packets p ON p.pos = g.pos
      WHERE g.identifier = $1 AND g.seq > $2::bigint ORDER BY g.seq LIMIT $3)
  ) x ORDER BY seq LIMIT $3`,
  'ASC',
);

/** The newest packets between two identifiers before a seq of the first, newest first. */
export const CONVERSATION = cutByBytes(
  `SELECT pos, seq, bytes FROM (
    (SELECT pos, seq_from AS seq, ${RECORD_BYTES('packets')} AS bytes FROM packets
      WHERE sender = $1 AND recipient = $6 AND group_id IS NULL AND seq_from < $2::bigint
      ORDER BY seq_from DESC LIMIT $3)
    UNION ALL
    (SELECT pos, seq_to AS seq, ${RECORD_BYTES('packets')} AS bytes FROM packets
      WHERE recipient = $1 AND sender = $6 AND recipient <> sender AND seq_to < $2::bigint
      ORDER BY seq_to DESC LIMIT $3)
  ) x ORDER BY seq DESC LIMIT $3`,
  'DESC',
);

/** The newest group messages of group $6 in the stream of $1 before a seq of it, newest first. */
export const GROUP_CONVERSATION = cutByBytes(
  `SELECT pos, seq, bytes FROM (
    (SELECT pos, seq_from AS seq, ${RECORD_BYTES('packets')} AS bytes FROM packets
      WHERE sender = $1 AND group_id = $6 AND seq_from < $2::bigint ORDER BY seq_from DESC LIMIT $3)
    UNION ALL
    (SELECT g.pos, g.seq, ${RECORD_BYTES('p')} AS bytes FROM group_places g
      JOIN packets p ON p.pos = g.pos
      WHERE g.identifier = $1 AND g.group_id = $6 AND g.seq < $2::bigint
      ORDER BY g.seq DESC LIMIT $3)
  ) x ORDER BY seq DESC LIMIT $3`,
  'DESC',
);

/**
 * Runs a page query and turns its rows into records (in the query's order): `more` when there
 * were candidates beyond the limit or beyond the byte budget.
 */
export async function readPage(
  pool: pg.Pool,
  sql: string,
  params: { identifier: string; seq: number; limit: number; maxBytes: number; peer?: string },
  toRecord: (row: PacketRow) => StoredStreamRecord,
): Promise<RecordPage> {
  const budget = Number.isFinite(params.maxBytes)
    ? Math.max(0, Math.floor(params.maxBytes))
    : Number.MAX_SAFE_INTEGER;
  const values: unknown[] = [params.identifier, params.seq, params.limit + 1, params.limit, budget];
  if (params.peer !== undefined) values.push(params.peer);
  const { rows } = await pool.query<PacketRow & { total: string }>(sql, values);
  const total = Number(rows[0]?.total ?? 0);
  return { records: rows.map(toRecord), more: total > rows.length };
}
