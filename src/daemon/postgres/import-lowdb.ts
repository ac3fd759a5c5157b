import type pg from 'pg';
import {
  groupEntrySchema,
  groupSeqOf,
  isStoredGroupRecord,
  type StoredStreamRecord,
} from '../../core/index.js';
import { readGroupFiles, type GroupFile } from '../group-files.js';
import { ImportTally, type ImportSummary } from '../import-tally.js';
import { userRecordSchema } from '../key-directory.js';
import { LowdbSource } from '../lowdb-source.js';
import { retiredIdentifierSchema } from '../retired-files.js';
import { StoreCorruptError } from '../store-corrupt-error.js';
import { migrate } from './migrate.js';
import { GROUP_PLACE_BYTES, GROUP_PLACES_BASE_BYTES } from './pg-group-append.js';
import { toRecord } from './pg-message-store.js';
import { RECORD_BYTES, RECORD_COLUMNS, type PacketRow } from './pg-pages.js';

/** Any fixed number: the advisory lock that keeps two imports into one database apart. */
const IMPORT_LOCK = 7_373_002;
/** Rows read back per query while verifying. */
const PAGE = 1000;

/** The target database holds something other than this very import: nothing was written. */
export class ImportTargetNotEmptyError extends Error {
  readonly code = 'IMPORT_TARGET_NOT_EMPTY';

  constructor(found: ImportSummary) {
    super(
      `The database already holds other data (${describe(found)}); import into a new, empty database.`,
    );
    this.name = 'ImportTargetNotEmptyError';
  }
}

/** What the database holds after the import differs from the source: it was rolled back. */
export class ImportVerifyError extends Error {
  readonly code = 'IMPORT_VERIFY_FAILED';

  constructor(source: ImportSummary, target: ImportSummary) {
    super(
      `The import did not verify (source: ${describe(source)}; database: ${describe(target)}) and was rolled back; was a relay running on the data directory? Stop it and import again.`,
    );
    this.name = 'ImportVerifyError';
  }
}

/** Counts and checksum as printed. */
export function describe(summary: ImportSummary): string {
  return `${String(summary.users)} users, ${String(summary.packets)} packets, ${String(summary.states)} cursors or last-seen times, ${String(summary.groupEntries)} group log entries, ${String(summary.retired)} deleted accounts, sha256 ${summary.sha256}`;
}

/** The outcome of an import: what the database now holds, and whether it held it already. */
export interface ImportOutcome {
  readonly summary: ImportSummary;
  readonly alreadyImported: boolean;
}

function same(a: ImportSummary, b: ImportSummary): boolean {
  return (
    a.sha256 === b.sha256 &&
    a.users === b.users &&
    a.packets === b.packets &&
    a.states === b.states &&
    a.groupEntries === b.groupEntries &&
    a.retired === b.retired
  );
}

/** Feeds the source to a tally (and each segment's records to `each`, in order). */
async function tallySource(
  source: LowdbSource,
  each: (records: StoredStreamRecord[]) => Promise<void> = () => Promise.resolve(),
  eachGroup: (group: GroupFile) => Promise<void> = () => Promise.resolve(),
): Promise<ImportSummary> {
  const tally = new ImportTally();
  for (const user of source.users) tally.user(user);
  for (const tombstone of source.retired) tally.tombstone(tombstone);
  for await (const records of source.records()) {
    for (const record of records) tally.record(record);
    await each(records);
  }
  for (const state of source.states()) tally.state(state);
  for await (const group of readGroupFiles(source.dataDir)) {
    for (const entry of group.entries) tally.groupEntry(entry);
    await eachGroup(group);
  }
  return tally.finish(source.secret);
}

/** The users columns that may be NULL, as the key directory entry's absent fields. */
function optionalColumns(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, field] of [
    ['credentials', 'credentials'],
    ['rotations', 'rotations'],
    ['replaced_keys', 'replacedKeys'],
  ] as const) {
    if (row[column] !== null && row[column] !== undefined) out[field] = row[column];
  }
  return out;
}

/** Reads the database back in the tally's order, each row through its schema. */
async function tallyTarget(client: pg.PoolClient): Promise<ImportSummary> {
  const tally = new ImportTally();
  for (let after = ''; ;) {
    const { rows } = await client.query<Record<string, unknown>>(
      `SELECT * FROM users WHERE identifier COLLATE "C" > $1 ORDER BY identifier COLLATE "C" LIMIT ${String(PAGE)}`,
      [after],
    );
    for (const row of rows)
      tally.user(
        userRecordSchema.parse({
          identifier: row['identifier'],
          publicKey: row['public_key'],
          wrappedPrivateKey: row['wrapped_private_key'],
          kdf: row['kdf'],
          loginProofHash: row['login_proof_hash'],
          createdAt: Number(row['created_at']),
          ...optionalColumns(row),
        }),
      );
    if (rows.length < PAGE) break;
    after = String(rows.at(-1)?.['identifier']);
  }
  const retired = await client.query<Record<string, unknown>>(
    'SELECT * FROM retired_identifiers ORDER BY identifier COLLATE "C"',
  );
  for (const row of retired.rows)
    tally.tombstone(
      retiredIdentifierSchema.parse({
        identifier: row['identifier'],
        publicKey: row['public_key'],
        deletion: row['deletion'],
        deletedAt: Number(row['deleted_at']),
        retiredUntil: Number(row['retired_until']),
      }),
    );
  for (let after = -1; ;) {
    const { rows } = await client.query<PacketRow>(
      `SELECT ${RECORD_COLUMNS} FROM packets p WHERE p.pos > $1 ORDER BY p.pos LIMIT ${String(PAGE)}`,
      [after],
    );
    for (const row of rows) tally.record(toRecord(row));
    if (rows.length < PAGE) break;
    after = Number(rows.at(-1)?.pos);
  }
  const states = await client.query<{
    identifier: string;
    delivered: number;
    last_seen: string | null;
  }>(
    `SELECT identifier, delivered, last_seen FROM streams WHERE delivered > 0 OR last_seen IS NOT NULL
     ORDER BY identifier COLLATE "C"`,
  );
  for (const row of states.rows)
    tally.state({
      identifier: row.identifier,
      delivered: row.delivered,
      lastSeen: row.last_seen === null ? null : Number(row.last_seen),
    });
  for (let after = { group: '', idx: -1 }; ;) {
    const { rows } = await client.query<{ group_id: string; idx: number; entry: string }>(
      `SELECT group_id, idx, entry FROM group_entries
       WHERE (group_id COLLATE "C", idx) > ($1 COLLATE "C", $2)
       ORDER BY group_id COLLATE "C", idx LIMIT ${String(PAGE)}`,
      [after.group, after.idx],
    );
    for (const row of rows) {
      const parsed = groupEntrySchema.safeParse(JSON.parse(row.entry) as unknown);
      if (!parsed.success)
        throw new StoreCorruptError('group_entries', `an entry of ${row.group_id} is not valid`);
      tally.groupEntry(parsed.data);
    }
    const last = rows.at(-1);
    if (rows.length < PAGE || last === undefined) break;
    after = { group: last.group_id, idx: last.idx };
  }
  const secret = await client.query<{ secret: Buffer }>('SELECT secret FROM server_secret');
  return tally.finish(secret.rows[0]?.secret ?? Buffer.alloc(0));
}

async function isEmpty(client: pg.PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1) u)
          + (SELECT count(*) FROM (SELECT 1 FROM packets LIMIT 1) p)
          + (SELECT count(*) FROM (SELECT 1 FROM streams LIMIT 1) s)
          + (SELECT count(*) FROM (SELECT 1 FROM groups LIMIT 1) g)
          + (SELECT count(*) FROM (SELECT 1 FROM retired_identifiers LIMIT 1) r) AS n`,
  );
  return rows[0]?.n === '0';
}

async function insertPackets(
  client: pg.PoolClient,
  records: readonly StoredStreamRecord[],
): Promise<void> {
  // A group message is one row at its sender's place (docs/storage.md), the others in group_places.
  const row = (r: StoredStreamRecord) => {
    if (!isStoredGroupRecord(r)) {
      const { from, to } = r.packet;
      return { to, seqFrom: r.seqFrom, seqTo: r.seqTo, group: null, from };
    }
    const seq = groupSeqOf(r, r.packet.from) ?? 0;
    return {
      to: r.packet.from,
      seqFrom: seq,
      seqTo: seq,
      group: r.packet.group,
      from: r.packet.from,
    };
  };
  const rows = records.map(row);
  await client.query(
    `INSERT INTO packets (pos, id, sender, recipient, seq_from, seq_to, server_time, packet, group_id)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::bigint[], $8::text[], $9::text[])`,
    [
      records.map((r) => r.pos),
      records.map((r) => r.packet.id),
      rows.map((r) => r.from),
      rows.map((r) => r.to),
      rows.map((r) => r.seqFrom),
      rows.map((r) => r.seqTo),
      records.map((r) => r.serverTime),
      records.map((r) => JSON.stringify(r.packet)),
      rows.map((r) => r.group),
    ],
  );
  const places = records
    .filter(isStoredGroupRecord)
    .flatMap((r) =>
      r.members
        .map((member, i) => ({ member, seq: r.seqs[i] ?? 0, group: r.packet.group, pos: r.pos }))
        .filter((place) => place.member !== r.packet.from),
    );
  if (places.length === 0) return;
  await client.query(
    `INSERT INTO group_places (identifier, seq, group_id, pos)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[])`,
    [
      places.map((p) => p.member),
      places.map((p) => p.seq),
      places.map((p) => p.group),
      places.map((p) => p.pos),
    ],
  );
}

/** Writes one group log: its head, its entries in order, everyone who was ever a member. */
async function insertGroup(client: pg.PoolClient, group: GroupFile): Promise<void> {
  await client.query('INSERT INTO groups (group_id, head_index, head) VALUES ($1, $2, $3::jsonb)', [
    group.group,
    group.head.index,
    JSON.stringify(group.head),
  ]);
  await client.query(
    `INSERT INTO group_entries (group_id, idx, entry)
     SELECT $1, * FROM unnest($2::int[], $3::text[])`,
    [group.group, group.entries.map((e) => e.index), group.entries.map((e) => JSON.stringify(e))],
  );
  await client.query(
    'INSERT INTO group_seen (group_id, identifier) SELECT $1, unnest($2::text[])',
    [group.group, group.seen],
  );
  await client.query(
    `INSERT INTO group_spells (group_id, identifier, fingerprint, from_idx, to_idx)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::int[])`,
    [
      group.group,
      group.spells.map((s) => s.member),
      group.spells.map((s) => s.fingerprint),
      group.spells.map((s) => s.from),
      group.spells.map((s) => s.to ?? null),
    ],
  );
}

/** Writes everything but the packets (inserted as they are read), derived rows last. */
async function insertRest(client: pg.PoolClient, source: LowdbSource): Promise<void> {
  const states = new Map(source.states().map((state) => [state.identifier, state]));
  const identifiers = [...new Set([...source.lengths.keys(), ...states.keys()])];
  await client.query(
    `INSERT INTO streams (identifier, length, delivered, last_seen)
     SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::bigint[])`,
    [
      identifiers,
      identifiers.map((id) => source.lengths.get(id) ?? 0),
      identifiers.map((id) => states.get(id)?.delivered ?? 0),
      identifiers.map((id) => states.get(id)?.lastSeen ?? null),
    ],
  );
  await client.query(
    `INSERT INTO contacts (sender, recipient)
     SELECT DISTINCT sender, recipient FROM packets WHERE sender <> recipient`,
  );
  await client.query(
    `INSERT INTO usage (identifier, packets, bytes)
     SELECT sender, count(*), sum(${RECORD_BYTES('packets')} + CASE WHEN group_id IS NULL THEN 0
       ELSE ${GROUP_PLACES_BASE_BYTES} + ${GROUP_PLACE_BYTES} * (1 + (SELECT count(*) FROM group_places g WHERE g.pos = packets.pos)) END)
     FROM packets GROUP BY sender`,
  );
  await client.query(
    `SELECT setval(pg_get_serial_sequence('packets', 'pos'), max(pos)) FROM packets HAVING count(*) > 0`,
  );
  await client.query(
    `INSERT INTO server_secret (secret) VALUES ($1)
     ON CONFLICT (only_row) DO UPDATE SET secret = EXCLUDED.secret`,
    [source.secret],
  );
}

/**
 * Moves a stopped relay's data directory into a PostgreSQL database in one transaction, and
 * commits only once the database, read back, has the source's counts and checksum. The target must
 * be empty (a server secret alone is replaced), unless it holds this very import: then nothing is
 * written and the outcome says so. The source is only read.
 */
export async function importLowdb(dataDir: string, pool: pg.Pool): Promise<ImportOutcome> {
  await migrate(pool);
  const source = await LowdbSource.open(dataDir);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [IMPORT_LOCK]);
    if (!(await isEmpty(client))) {
      const found = await tallyTarget(client);
      if (!same(await tallySource(source), found)) throw new ImportTargetNotEmptyError(found);
      await client.query('ROLLBACK');
      return { summary: found, alreadyImported: true };
    }
    const users = source.users;
    await client.query(
      `INSERT INTO users (identifier, public_key, wrapped_private_key, kdf, login_proof_hash, created_at, credentials,
         rotations, replaced_keys)
       SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::text[], $6::bigint[], $7::jsonb[],
         $8::jsonb[], $9::jsonb[])`,
      [
        users.map((u) => u.identifier),
        users.map((u) => u.publicKey),
        users.map((u) => JSON.stringify(u.wrappedPrivateKey)),
        users.map((u) => JSON.stringify(u.kdf)),
        users.map((u) => u.loginProofHash),
        users.map((u) => u.createdAt),
        users.map((u) => (u.credentials === undefined ? null : JSON.stringify(u.credentials))),
        users.map((u) => (u.rotations === undefined ? null : JSON.stringify(u.rotations))),
        users.map((u) => (u.replacedKeys === undefined ? null : JSON.stringify(u.replacedKeys))),
      ],
    );
    const retired = source.retired;
    await client.query(
      `INSERT INTO retired_identifiers (identifier, public_key, deletion, deleted_at, retired_until)
       SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::bigint[])`,
      [
        retired.map((r) => r.identifier),
        retired.map((r) => r.publicKey),
        retired.map((r) => JSON.stringify(r.deletion)),
        retired.map((r) => r.deletedAt),
        retired.map((r) => r.retiredUntil),
      ],
    );
    const expected = await tallySource(
      source,
      (records) => insertPackets(client, records),
      (group) => insertGroup(client, group),
    );
    await insertRest(client, source);
    const found = await tallyTarget(client);
    if (!same(expected, found)) throw new ImportVerifyError(expected, found);
    await client.query('COMMIT');
    return { summary: found, alreadyImported: false };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
