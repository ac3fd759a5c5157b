import type pg from 'pg';
import type { KeyDirectory, NewCredentials, RotatedKey, UserRecord } from '../../core/index.js';
import { userRecordSchema } from '../key-directory.js';
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

  async create(record: UserRecord): Promise<boolean> {
    const checked = userRecordSchema.parse(record);
    const { rowCount } = await guarded(() =>
      this.pool.query(
        `INSERT INTO users (identifier, public_key, wrapped_private_key, kdf, login_proof_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (identifier) DO NOTHING`,
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

  async count(): Promise<number> {
    const { rows } = await guarded(() =>
      this.pool.query<{ n: string }>('SELECT count(*) AS n FROM users'),
    );
    return Number(rows[0]?.n ?? 0);
  }
}
