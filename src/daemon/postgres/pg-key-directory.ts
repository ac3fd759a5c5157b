import type pg from 'pg';
import type {
  KeyDirectory,
  NewCredentials,
  RetiredIdentifier,
  RotatedKey,
  UserRecord,
} from '../../core/index.js';
import { userRecordSchema } from '../key-directory.js';
import { retiredIdentifierSchema } from '../retired-files.js';
import { StoreCorruptError } from '../store-corrupt-error.js';
import { guarded } from './pool.js';

interface UserRow {
  identifier: string;
  public_key: string;
  wrapped_private_key: unknown;
  kdf: unknown;
  login_proof_hash: string;
  created_at: string;
  credentials: unknown;
  rotations: unknown;
  replaced_keys: unknown;
}

/**
 * One statement for every lookup, registered or not: the asked row and a stand-in (the first user
 * by identifier) are fetched, one row comes back and is parsed either way, and `found` says which it
 * is. So `prelogin` and `login` cost the same for a registered identifier as for an unknown one; no
 * cache answers one kind faster (the relay's hot paths cache public keys of registered users apart).
 */
const LOOKUP = `SELECT u.*, u.identifier = $1 AS found FROM users u
  WHERE u.identifier = ANY (ARRAY[$1, (SELECT min(identifier) FROM users)])
  ORDER BY found DESC LIMIT 1`;

/**
 * A deletion in one statement, so in one transaction: the entry goes (compare and set on its key
 * and proof hash), the tombstone is written (over an expired one), the delivery cursor and the
 * last-seen time are cleared and the failed-login count dropped. The stream's length stays: its
 * packets stay (docs/storage.md). No row comes back when the entry was not the expected one.
 */
const RETIRE = `
WITH gone AS (
  DELETE FROM users WHERE identifier = $1 AND public_key = $2 AND login_proof_hash = $3
  RETURNING identifier
), tombstone AS (
  INSERT INTO retired_identifiers (identifier, public_key, deletion, deleted_at, retired_until)
  SELECT identifier, $4::text, $5::jsonb, $6::bigint, $7::bigint FROM gone
  ON CONFLICT (identifier) DO UPDATE SET public_key = EXCLUDED.public_key,
    deletion = EXCLUDED.deletion, deleted_at = EXCLUDED.deleted_at,
    retired_until = EXCLUDED.retired_until
  RETURNING identifier
), cleared AS (
  UPDATE streams SET delivered = 0, last_seen = NULL WHERE identifier IN (SELECT identifier FROM gone)
), forgiven AS (
  DELETE FROM login_failures WHERE identifier IN (SELECT identifier FROM gone)
)
SELECT identifier FROM tombstone`;

/** A JSON column's parameter: the value's text, or NULL for an absent one. */
function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** The key directory in the `users` table; shared by every daemon on the database. */
export class PgKeyDirectory implements KeyDirectory {
  constructor(private readonly pool: pg.Pool) {}

  async get(identifier: string): Promise<UserRecord | undefined> {
    const { rows } = await guarded(() =>
      this.pool.query<UserRow & { found: boolean }>(LOOKUP, [identifier]),
    );
    const row = rows[0];
    if (!row) return undefined;
    const parsed = userRecordSchema.safeParse({
      identifier: row.identifier,
      publicKey: row.public_key,
      wrappedPrivateKey: row.wrapped_private_key,
      kdf: row.kdf,
      loginProofHash: row.login_proof_hash,
      createdAt: Number(row.created_at),
      ...(row.credentials === null ? {} : { credentials: row.credentials }),
      ...(row.rotations === null ? {} : { rotations: row.rotations }),
      ...(row.replaced_keys === null ? {} : { replacedKeys: row.replaced_keys }),
    });
    if (!parsed.success) throw new StoreCorruptError('users', 'a row does not match its schema');
    return row.found ? parsed.data : undefined;
  }

  /** Refused (false) while the identifier is retired, as when it is taken. */
  async create(record: UserRecord): Promise<boolean> {
    const checked = userRecordSchema.parse(record);
    const { rowCount } = await guarded(() =>
      this.pool.query(
        `INSERT INTO users (identifier, public_key, wrapped_private_key, kdf, login_proof_hash, created_at)
         SELECT $1::text, $2::text, $3::jsonb, $4::jsonb, $5::text, $6::bigint WHERE NOT EXISTS (
           SELECT 1 FROM retired_identifiers WHERE identifier = $1 AND retired_until > $6)
         ON CONFLICT (identifier) DO NOTHING`,
        [
          checked.identifier,
          checked.publicKey,
          JSON.stringify(checked.wrappedPrivateKey),
          JSON.stringify(checked.kdf),
          checked.loginProofHash,
          checked.createdAt,
        ],
      ),
    );
    return rowCount === 1;
  }

  async replaceCredentials(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    next: NewCredentials,
  ): Promise<boolean> {
    const { rowCount } = await guarded(() =>
      this.pool.query(
        `UPDATE users SET wrapped_private_key = $3, kdf = $4, login_proof_hash = $5, credentials = $6,
           replaced_keys = coalesce($7, replaced_keys)
         WHERE identifier = $1 AND login_proof_hash = $2 AND public_key = $8`,
        [
          identifier,
          expected.loginProofHash,
          JSON.stringify(next.wrappedPrivateKey),
          JSON.stringify(next.kdf),
          next.loginProofHash,
          jsonOrNull(next.credentials),
          jsonOrNull(next.replacedKeys),
          expected.publicKey,
        ],
      ),
    );
    return rowCount === 1;
  }

  async rotateKey(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    next: RotatedKey,
  ): Promise<boolean> {
    const { rowCount } = await guarded(() =>
      this.pool.query(
        `UPDATE users SET public_key = $4, wrapped_private_key = $5, credentials = $6,
           rotations = $7, replaced_keys = $8
         WHERE identifier = $1 AND public_key = $2 AND login_proof_hash = $3`,
        [
          identifier,
          expected.publicKey,
          expected.loginProofHash,
          next.publicKey,
          JSON.stringify(next.wrappedPrivateKey),
          jsonOrNull(next.credentials),
          jsonOrNull(next.rotations),
          jsonOrNull(next.replacedKeys),
        ],
      ),
    );
    return rowCount === 1;
  }

  async retire(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    tombstone: RetiredIdentifier,
  ): Promise<boolean> {
    const checked = retiredIdentifierSchema.parse(tombstone);
    const { rows } = await guarded(() =>
      this.pool.query(RETIRE, [
        identifier,
        expected.publicKey,
        expected.loginProofHash,
        checked.publicKey,
        JSON.stringify(checked.deletion),
        checked.deletedAt,
        checked.retiredUntil,
      ]),
    );
    return rows.length === 1;
  }

  async retirement(identifier: string, now: number): Promise<RetiredIdentifier | undefined> {
    const { rows } = await guarded(() =>
      this.pool.query<{
        public_key: string;
        deletion: unknown;
        deleted_at: string;
        retired_until: string;
      }>(
        `SELECT public_key, deletion, deleted_at, retired_until FROM retired_identifiers
         WHERE identifier = $1 AND retired_until > $2`,
        [identifier, now],
      ),
    );
    const row = rows[0];
    if (!row) return undefined;
    const parsed = retiredIdentifierSchema.safeParse({
      identifier,
      publicKey: row.public_key,
      deletion: row.deletion,
      deletedAt: Number(row.deleted_at),
      retiredUntil: Number(row.retired_until),
    });
    if (!parsed.success)
      throw new StoreCorruptError('retired_identifiers', 'a row does not match its schema');
    return parsed.data;
  }

  async count(): Promise<number> {
    const { rows } = await guarded(() =>
      this.pool.query<{ n: string }>('SELECT count(*) AS n FROM users'),
    );
    return Number(rows[0]?.n ?? 0);
  }
}
