import type pg from 'pg';
import type { KeyDirectory, UserRecord } from '../../core/index.js';
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
}

/** Users at most kept parsed in memory; a user's record never changes once registered. */
const CACHE_USERS = 100_000;

/** The key directory in the `users` table; shared by every daemon on the database. */
export class PgKeyDirectory implements KeyDirectory {
  private readonly cache = new Map<string, UserRecord>();

  constructor(private readonly pool: pg.Pool) {}

  async get(identifier: string): Promise<UserRecord | undefined> {
    const cached = this.cache.get(identifier);
    if (cached) return cached;
    const { rows } = await guarded(() =>
      this.pool.query<UserRow>('SELECT * FROM users WHERE identifier = $1', [identifier]),
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
    });
    if (!parsed.success) throw new StoreCorruptError('users', 'a row does not match its schema');
    this.remember(parsed.data);
    return parsed.data;
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
    if (rowCount !== 1) return false;
    this.remember(checked);
    return true;
  }

  async count(): Promise<number> {
    const { rows } = await guarded(() =>
      this.pool.query<{ n: string }>('SELECT count(*) AS n FROM users'),
    );
    return Number(rows[0]?.n ?? 0);
  }

  private remember(record: UserRecord): void {
    if (this.cache.size >= CACHE_USERS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(record.identifier, record);
  }
}
