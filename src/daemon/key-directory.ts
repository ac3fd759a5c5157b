import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  credentialsStatementSchema,
  identifierSchema,
  isIdentifier,
  kdfParamsSchema,
  RelayError,
  replacedKeysSchema,
  rotationChainSchema,
  wrappedPrivateKeySchema,
  type KeyDirectory,
  type NewCredentials,
  type RetiredIdentifier,
  type RotatedKey,
  type UserRecord,
} from '../core/index.js';
import { finishRetirements, readRetired, writeRetirement } from './retired-files.js';
import {
  createFileExclusive,
  ensureDirectory,
  removeStaleTemps,
  writeFileAtomic,
} from './atomic-file.js';
import { FreeSpace } from './free-space.js';
import { FsyncJsonFile } from './fsync-json-file.js';

/** A filesystem block: a small file takes at least one. */
const FILE_BLOCK_BYTES = 4096;

/** Errors of a write that found no room: the disk (ENOSPC), a quota (EDQUOT), a file-size limit (EFBIG). */
const NO_ROOM = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** A registration refused for want of disk space: typed, so the client can say what to do. */
function storageFull(cause?: unknown): RelayError {
  return new RelayError(
    'STORAGE_FULL',
    'The relay is almost out of disk space and takes no new registrations; try again later, or tell its operator.',
    cause === undefined ? undefined : { cause },
  );
}

/** A key directory entry as stored, checked on every read. */
export const userRecordSchema = z.strictObject({
  identifier: identifierSchema,
  publicKey: z.string().max(1024),
  wrappedPrivateKey: wrappedPrivateKeySchema,
  kdf: kdfParamsSchema,
  loginProofHash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.number().int().min(0),
  credentials: credentialsStatementSchema.optional(),
  rotations: rotationChainSchema.optional(),
  replacedKeys: replacedKeysSchema.optional(),
});

/**
 * The key directory as one JSON file per user in `data/keys/`, read on demand and cached. A new
 * user is refused with STORAGE_FULL below the free-space floor (the same floor that refuses new
 * packets), and when the disk refuses the write.
 */
export class FileKeyDirectory implements KeyDirectory {
  private readonly cache = new Map<string, UserRecord>();
  private readonly known = new Set<string>();
  /** Every tombstone (data/keys/retired/), expired ones included: a handful, read at start. */
  private readonly retired = new Map<string, RetiredIdentifier>();
  private readonly space: FreeSpace;
  /** The last credentials change, so the next one starts after it. */
  private writing: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly directory: string,
    private readonly minFreeBytes: number,
    private readonly forget: (identifier: string) => Promise<void>,
  ) {
    this.space = new FreeSpace(directory);
  }

  /**
   * Opens (and creates) the directory, counting the users already registered. A deletion that a
   * crash interrupted is finished, and `forget` (the message store's: delivery cursor, presence)
   * runs again for every tombstone, so what a deletion removes is gone after any crash.
   */
  static async open(
    directory: string,
    minFreeBytes = 0,
    forget: (identifier: string) => Promise<void> = () => Promise.resolve(),
  ): Promise<FileKeyDirectory> {
    await ensureDirectory(directory);
    await removeStaleTemps(directory);
    const keys = new FileKeyDirectory(directory, minFreeBytes, forget);
    for (const name of await readdir(directory)) {
      const identifier = name.endsWith('.json') ? name.slice(0, -5) : '';
      if (isIdentifier(identifier)) keys.known.add(identifier);
    }
    const retired = await readRetired(directory);
    for (const identifier of await finishRetirements(directory, retired, keys.known))
      keys.known.delete(identifier);
    for (const tombstone of retired) {
      keys.retired.set(tombstone.identifier, tombstone);
      if (!keys.known.has(tombstone.identifier)) await forget(tombstone.identifier);
    }
    return keys;
  }

  async get(identifier: string): Promise<UserRecord | undefined> {
    // One daemon owns a data directory: its cache is always current.
    // Both lookups for every identifier, registered or not: prelogin's timing must not tell.
    const cached = this.cache.get(identifier);
    if (!this.known.has(identifier)) return undefined;
    if (cached) return cached;
    const record = await new FsyncJsonFile(this.pathOf(identifier), userRecordSchema).read();
    if (record?.identifier !== identifier) return undefined;
    this.cache.set(identifier, record);
    return record;
  }

  async create(record: UserRecord): Promise<boolean> {
    if (this.known.has(record.identifier)) return false;
    const tombstone = this.retired.get(record.identifier);
    if (tombstone !== undefined && tombstone.retiredUntil > record.createdAt) return false;
    const checked = userRecordSchema.parse(record);
    const contents = JSON.stringify(checked);
    // The file is written twice over (a temp file, then linked), in blocks: count generously.
    const cost = 2 * (Buffer.byteLength(contents) + FILE_BLOCK_BYTES);
    if ((await this.space.available()) - cost < this.minFreeBytes) throw storageFull();
    let created: boolean;
    try {
      created = await createFileExclusive(this.pathOf(checked.identifier), contents);
    } catch (cause) {
      if (NO_ROOM.has((cause as NodeJS.ErrnoException).code ?? '')) throw storageFull(cause);
      throw cause;
    }
    this.space.wrote(cost);
    if (created) {
      this.known.add(checked.identifier);
      this.cache.set(checked.identifier, checked);
    }
    return created;
  }

  replaceCredentials(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    next: NewCredentials,
  ): Promise<boolean> {
    return this.replace(identifier, expected, next);
  }

  rotateKey(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    next: RotatedKey,
  ): Promise<boolean> {
    return this.replace(identifier, expected, next);
  }

  retire(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    tombstone: RetiredIdentifier,
  ): Promise<boolean> {
    const run = this.writing.then(async () => {
      const current = await this.get(identifier);
      if (
        current?.publicKey !== expected.publicKey ||
        current.loginProofHash !== expected.loginProofHash
      )
        return false;
      try {
        await writeRetirement(this.directory, tombstone);
      } catch (cause) {
        throw new RelayError(
          'STORE_FAILED',
          'The relay could not store the deletion; try again (a deletion it stored half is finished when it restarts).',
          { cause },
        );
      }
      this.retired.set(identifier, tombstone);
      this.known.delete(identifier);
      this.cache.delete(identifier);
      await this.forget(identifier);
      return true;
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  retirement(identifier: string, now: number): Promise<RetiredIdentifier | undefined> {
    const tombstone = this.retired.get(identifier);
    return Promise.resolve(
      tombstone !== undefined && tombstone.retiredUntil > now ? tombstone : undefined,
    );
  }

  /** Rewrites an entry if its key and proof hash are still the expected ones, with nothing between. */
  private replace(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    next: Partial<UserRecord>,
  ): Promise<boolean> {
    // One change at a time per directory: the compare and the write happen with nothing between.
    const run = this.writing.then(async () => {
      const current = await this.get(identifier);
      if (
        current?.publicKey !== expected.publicKey ||
        current.loginProofHash !== expected.loginProofHash
      )
        return false;
      const checked = userRecordSchema.parse({ ...current, ...next });
      try {
        await writeFileAtomic(this.pathOf(identifier), JSON.stringify(checked));
      } catch (cause) {
        if (NO_ROOM.has((cause as NodeJS.ErrnoException).code ?? '')) throw storageFull(cause);
        throw cause;
      }
      this.cache.set(identifier, checked);
      return true;
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  count(): Promise<number> {
    return Promise.resolve(this.known.size);
  }

  private pathOf(identifier: string): string {
    if (!isIdentifier(identifier)) throw new Error('not an identifier');
    return join(this.directory, `${identifier}.json`);
  }
}
