import { Low } from 'lowdb';
import { z } from 'zod';
import { identifierSchema, type PresenceUpdate } from '../core/index.js';
import { FsyncJsonFile } from './fsync-json-file.js';

const dbSchema = z.strictObject({
  v: z.literal(1),
  segmentSize: z.number().int().min(1).max(65536),
  presence: z.record(identifierSchema, z.strictObject({ lastSeen: z.number().int().min(0) })),
  cursors: z.record(identifierSchema, z.number().int().min(0)),
});

/** The contents of data/db.json: what cannot be derived from the log. */
export type DbData = z.infer<typeof dbSchema>;

/**
 * data/db.json through lowdb: last-seen times, delivery cursors and the log's segment size. Writes
 * coalesce: callers that arrive while a write runs share the next one.
 */
export class PrimaryDb {
  private writing: Promise<void> | null = null;
  /** Version of the latest change, and of the latest change known to be on disk. */
  private changed = 0;
  private written = 0;
  private readonly online = new Set<string>();

  private constructor(private readonly low: Low<DbData>) {}

  /** Loads db.json, creating it with the given segment size on first start. */
  static async open(path: string, segmentSize: number): Promise<PrimaryDb> {
    const low = new Low<DbData>(new FsyncJsonFile(path, dbSchema), {
      v: 1,
      segmentSize,
      presence: {},
      cursors: {},
    });
    await low.read();
    const db = new PrimaryDb(low);
    await db.persist();
    return db;
  }

  get segmentSize(): number {
    return this.low.data.segmentSize;
  }

  cursor(identifier: string): number {
    return this.low.data.cursors[identifier] ?? 0;
  }

  async setCursor(identifier: string, upTo: number): Promise<void> {
    this.low.data.cursors[identifier] = upTo;
    await this.persist();
  }

  presence(identifier: string): PresenceUpdate | undefined {
    const stored = this.low.data.presence[identifier];
    if (!stored) return undefined;
    return { identifier, online: this.online.has(identifier), lastSeen: stored.lastSeen };
  }

  async setPresence(update: PresenceUpdate): Promise<void> {
    if (update.online) this.online.add(update.identifier);
    else this.online.delete(update.identifier);
    this.low.data.presence[update.identifier] = { lastSeen: update.lastSeen };
    await this.persist();
  }

  /** Resolves once everything changed before the call is on disk (each change has a version). */
  async persist(): Promise<void> {
    const target = ++this.changed;
    while (this.written < target) {
      if (!this.writing) {
        const version = this.changed;
        this.writing = this.low
          .write()
          .then(() => {
            this.written = Math.max(this.written, version);
          })
          .finally(() => {
            this.writing = null;
          });
      }
      await this.writing;
    }
  }
}
