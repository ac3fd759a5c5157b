import { readFile } from 'node:fs/promises';
import type { Adapter } from 'lowdb';
import type { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/**
 * A lowdb adapter that is durable (lowdb's own JSONFile never fsyncs) and strict: every write is
 * atomic and fsynced, and every read is parsed through a schema, so a damaged file is a typed error.
 */
export class FsyncJsonFile<T> implements Adapter<T> {
  constructor(
    private readonly path: string,
    private readonly schema: z.ZodType<T>,
  ) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new StoreCorruptError(this.path, 'it is not valid JSON', { cause });
    }
    const parsed = this.schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown';
      throw new StoreCorruptError(this.path, `it does not match its schema (${where})`);
    }
    return parsed.data;
  }

  async write(data: T): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(data));
  }
}
