import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  identifierSchema,
  isIdentifier,
  kdfParamsSchema,
  wrappedPrivateKeySchema,
  type KeyDirectory,
  type UserRecord,
} from '../core/index.js';
import { createFileExclusive, ensureDirectory, removeStaleTemps } from './atomic-file.js';
import { FsyncJsonFile } from './fsync-json-file.js';

/** A key directory entry as stored, checked on every read. */
export const userRecordSchema = z.strictObject({
  identifier: identifierSchema,
  publicKey: z.string().max(1024),
  wrappedPrivateKey: wrappedPrivateKeySchema,
  kdf: kdfParamsSchema,
  loginProofHash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.number().int().min(0),
});

/** The key directory as one JSON file per user in `data/keys/`, read on demand and cached. */
export class FileKeyDirectory implements KeyDirectory {
  private readonly cache = new Map<string, UserRecord>();
  private readonly known = new Set<string>();

  private constructor(private readonly directory: string) {}

  /** Opens (and creates) the directory, counting the users already registered. */
  static async open(directory: string): Promise<FileKeyDirectory> {
    await ensureDirectory(directory);
    await removeStaleTemps(directory);
    const keys = new FileKeyDirectory(directory);
    for (const name of await readdir(directory)) {
      const identifier = name.endsWith('.json') ? name.slice(0, -5) : '';
      if (isIdentifier(identifier)) keys.known.add(identifier);
    }
    return keys;
  }

  async get(identifier: string): Promise<UserRecord | undefined> {
    if (!this.known.has(identifier)) return undefined;
    const cached = this.cache.get(identifier);
    if (cached) return cached;
    const record = await new FsyncJsonFile(this.pathOf(identifier), userRecordSchema).read();
    if (record?.identifier !== identifier) return undefined;
    this.cache.set(identifier, record);
    return record;
  }

  async create(record: UserRecord): Promise<boolean> {
    if (this.known.has(record.identifier)) return false;
    const checked = userRecordSchema.parse(record);
    const created = await createFileExclusive(
      this.pathOf(checked.identifier),
      JSON.stringify(checked),
    );
    if (created) {
      this.known.add(checked.identifier);
      this.cache.set(checked.identifier, checked);
    }
    return created;
  }

  count(): Promise<number> {
    return Promise.resolve(this.known.size);
  }

  private pathOf(identifier: string): string {
    if (!isIdentifier(identifier)) throw new Error('not an identifier');
    return join(this.directory, `${identifier}.json`);
  }
}
