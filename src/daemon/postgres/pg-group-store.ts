import type pg from 'pg';
import { z } from 'zod';
import {
  groupEntrySchema,
  identifierSchema,
  type GroupEntry,
  type GroupEntryPage,
  type GroupHead,
  type GroupKeyBinding,
  type GroupStore,
} from '../../core/index.js';
import { StoreCorruptError } from '../store-corrupt-error.js';
import { guarded } from './pool.js';

/** A stored head, parsed on the way out as everything read from the database is. */
export const groupHeadSchema = z.strictObject({
  group: z.string(),
  index: z.number().int().min(0),
  hash: z.string(),
  members: z.array(identifierSchema),
  fingerprints: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
  admins: z.array(identifierSchema),
  metaIndex: z.number().int().min(0),
  bytes: z.number().int().min(0),
});

/** A new group: its head row, its first entry and its members, or no row at all if it exists. */
const CREATE = `
WITH g AS (
  INSERT INTO groups (group_id, head_index, head) VALUES ($1, 0, $2::jsonb)
  ON CONFLICT DO NOTHING RETURNING group_id
), e AS (
  INSERT INTO group_entries (group_id, idx, entry) SELECT group_id, 0, $3 FROM g RETURNING idx
), s AS (
  INSERT INTO group_seen (group_id, identifier) SELECT g.group_id, m FROM g, unnest($4::text[]) m
  ON CONFLICT DO NOTHING
), sp AS (
  INSERT INTO group_spells (group_id, identifier, fingerprint, from_idx)
  SELECT g.group_id, m, f, 0 FROM g, unnest($4::text[], $5::text[]) AS x (m, f)
)
SELECT idx FROM e`;

/** The next entry, only while the head is still at $4 (compare and set): no row if it moved. */
const NEXT = `
WITH g AS (
  UPDATE groups SET head_index = $2, head = $3::jsonb WHERE group_id = $1 AND head_index = $4
  RETURNING group_id
), e AS (
  INSERT INTO group_entries (group_id, idx, entry) SELECT group_id, $2, $5 FROM g RETURNING idx
), s AS (
  INSERT INTO group_seen (group_id, identifier) SELECT g.group_id, m FROM g, unnest($6::text[]) m
  ON CONFLICT DO NOTHING
), joined AS (
  INSERT INTO group_spells (group_id, identifier, fingerprint, from_idx)
  SELECT g.group_id, $7::text, $8::text, $2 FROM g WHERE $7::text IS NOT NULL
), departed AS (
  UPDATE group_spells SET to_idx = $2
  WHERE group_id = $1 AND identifier = $9::text AND to_idx IS NULL AND EXISTS (SELECT 1 FROM g)
)
SELECT idx FROM e`;

/** The members after an entry, from the spells: each with the key its entry logged. */
const MEMBERS_AT = `
SELECT identifier, fingerprint FROM group_spells
WHERE group_id = $1 AND from_idx <= $2 AND (to_idx IS NULL OR to_idx > $2)
ORDER BY identifier COLLATE "C"`;

/** The groups an identifier is a member of now (its one open spell in each), by id, from the member index. */
const GROUPS_OF = `
SELECT group_id FROM group_spells
WHERE identifier = $1 AND to_idx IS NULL AND group_id COLLATE "C" > $2
ORDER BY group_id COLLATE "C" LIMIT $3`;

/** Who an entry brings in (with its logged key) and who it takes out, for the spells. */
export function spellChange(entry: GroupEntry): {
  joined: string | null;
  fingerprint: string | null;
  departed: string | null;
} {
  if (entry.op === 'add')
    return { joined: entry.member, fingerprint: entry.fingerprint, departed: null };
  if (entry.op === 'remove') return { joined: null, fingerprint: null, departed: entry.member };
  if (entry.op === 'leave') return { joined: null, fingerprint: null, departed: entry.author };
  return { joined: null, fingerprint: null, departed: null };
}

/** Entries from an index on, cut by a running sum of their bytes (the first always kept). */
const ENTRIES = `
SELECT idx, entry FROM (
  SELECT idx, entry, sum(octet_length(entry)) OVER (ORDER BY idx) AS running,
         row_number() OVER (ORDER BY idx) AS n
  FROM group_entries WHERE group_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3
) page WHERE n = 1 OR running <= $4 ORDER BY idx`;

/** The group logs in PostgreSQL, shared by every daemon on the database. */
export class PgGroupStore implements GroupStore {
  constructor(private readonly pool: pg.Pool) {}

  async head(group: string): Promise<GroupHead | undefined> {
    const { rows } = await guarded(() =>
      this.pool.query<{ head: unknown }>('SELECT head FROM groups WHERE group_id = $1', [group]),
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    const parsed = groupHeadSchema.safeParse(row.head);
    if (!parsed.success)
      throw new StoreCorruptError('groups', 'a group head does not match its schema');
    return parsed.data;
  }

  async wasMember(group: string, identifier: string): Promise<boolean> {
    const { rows } = await guarded(() =>
      this.pool.query('SELECT 1 FROM group_seen WHERE group_id = $1 AND identifier = $2', [
        group,
        identifier,
      ]),
    );
    return rows.length > 0;
  }

  async groupsOf(
    identifier: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ groups: string[]; more: boolean }> {
    const { rows } = await guarded(() =>
      this.pool.query<{ group_id: string }>(GROUPS_OF, [identifier, after ?? '', limit + 1]),
    );
    const groups = rows.map((row) => row.group_id);
    return { groups: groups.slice(0, limit), more: groups.length > limit };
  }

  async membersAt(group: string, index: number): Promise<GroupKeyBinding | undefined> {
    const head = await this.head(group);
    if (head === undefined || index > head.index) return undefined;
    const { rows } = await guarded(() =>
      this.pool.query<{ identifier: string; fingerprint: string }>(MEMBERS_AT, [group, index]),
    );
    return {
      members: rows.map((row) => row.identifier),
      fingerprints: rows.map((row) => row.fingerprint),
    };
  }

  async append(
    entry: GroupEntry,
    head: GroupHead,
    previousIndex: number | undefined,
  ): Promise<boolean> {
    const json = JSON.stringify(entry);
    const change = spellChange(entry);
    const { rows } = await guarded(() =>
      previousIndex === undefined
        ? this.pool.query(CREATE, [
            entry.group,
            JSON.stringify(head),
            json,
            head.members,
            head.fingerprints,
          ])
        : this.pool.query(NEXT, [
            entry.group,
            entry.index,
            JSON.stringify(head),
            previousIndex,
            json,
            head.members,
            change.joined,
            change.fingerprint,
            change.departed,
          ]),
    );
    return rows.length > 0;
  }

  async entries(
    group: string,
    from: number,
    limit: number,
    maxBytes: number,
  ): Promise<GroupEntryPage> {
    const { rows } = await guarded(() =>
      this.pool.query<{ idx: number; entry: string }>(ENTRIES, [group, from, limit, maxBytes]),
    );
    const entries = rows.map((row, i) => {
      const parsed = groupEntrySchema.safeParse(safeJson(row.entry));
      if (!parsed.success || row.idx !== from + i || parsed.data.index !== row.idx) {
        throw new StoreCorruptError(
          'group_entries',
          `the entry at ${String(row.idx)} is not valid`,
        );
      }
      return parsed.data;
    });
    const { rows: beyond } = await guarded(() =>
      this.pool.query('SELECT 1 FROM group_entries WHERE group_id = $1 AND idx = $2', [
        group,
        from + entries.length,
      ]),
    );
    return { entries, more: beyond.length > 0 };
  }

  /** The pool is the message store's: it ends it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
