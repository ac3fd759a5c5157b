import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  deletionStatementSchema,
  identifierSchema,
  isIdentifier,
  timestampSchema,
  type RetiredIdentifier,
} from '../core/index.js';
import {
  ensureDirectory,
  fsyncDirectory,
  removeStaleTemps,
  writeFileAtomic,
} from './atomic-file.js';
import { FsyncJsonFile } from './fsync-json-file.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/** A tombstone as stored (data/keys/retired/<identifier>.json, and the PostgreSQL row's columns). */
export const retiredIdentifierSchema = z.strictObject({
  identifier: identifierSchema,
  publicKey: z.string().max(1024),
  deletion: deletionStatementSchema,
  deletedAt: timestampSchema,
  retiredUntil: timestampSchema,
});

/** The tombstones' directory inside the key directory. */
export function retiredDirectory(keysDirectory: string): string {
  return join(keysDirectory, 'retired');
}

/** Every tombstone of a key directory, each file checked against its name; none if the directory is absent. */
export async function readRetired(keysDirectory: string): Promise<RetiredIdentifier[]> {
  const directory = retiredDirectory(keysDirectory);
  const names = await readdir(directory).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
    throw error;
  });
  const out: RetiredIdentifier[] = [];
  for (const name of names.filter((n) => isIdentifier(n.replace(/\.json$/, ''))).sort()) {
    const path = join(directory, name);
    const tombstone = await new FsyncJsonFile(path, retiredIdentifierSchema).read();
    if (tombstone?.identifier !== name.slice(0, -5))
      throw new StoreCorruptError(path, 'it is not the tombstone of the identifier it is named by');
    out.push(tombstone);
  }
  return out;
}

/**
 * The deletion on files: the tombstone is written durably first (it is the commit point), then the
 * key file is removed. A crash between leaves both; `finishRetirements` completes it at the next
 * start (the owner signed the deletion; it was never acknowledged, so rolling forward is safe).
 */
export async function writeRetirement(
  keysDirectory: string,
  tombstone: RetiredIdentifier,
): Promise<void> {
  const directory = retiredDirectory(keysDirectory);
  await ensureDirectory(directory);
  const checked = retiredIdentifierSchema.parse(tombstone);
  await writeFileAtomic(join(directory, `${checked.identifier}.json`), JSON.stringify(checked));
  await removeKeyFile(keysDirectory, checked.identifier);
}

/** Removes the key files that a tombstone written before a crash still has beside it; returns their identifiers. */
export async function finishRetirements(
  keysDirectory: string,
  retired: readonly RetiredIdentifier[],
  present: ReadonlySet<string>,
): Promise<string[]> {
  await removeStaleTemps(retiredDirectory(keysDirectory));
  const removed: string[] = [];
  for (const { identifier, deletedAt } of retired) {
    // A key file registered after an expired tombstone is newer than it: only older ones are left over.
    if (present.has(identifier)) {
      const record = await new FsyncJsonFile(
        join(keysDirectory, `${identifier}.json`),
        z.looseObject({ createdAt: z.number() }),
      ).read();
      if (record !== null && record.createdAt <= deletedAt) {
        await removeKeyFile(keysDirectory, identifier);
        removed.push(identifier);
      }
    }
  }
  return removed;
}

async function removeKeyFile(keysDirectory: string, identifier: string): Promise<void> {
  if (!isIdentifier(identifier)) throw new Error('not an identifier');
  await unlink(join(keysDirectory, `${identifier}.json`)).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  });
  await fsyncDirectory(keysDirectory);
}
