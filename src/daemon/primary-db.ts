import { Low } from 'lowdb';
import { z } from 'zod';
import { identifierSchema, type PresenceUpdate } from '../core/index.js';
import { FsyncJsonFile } from './fsync-json-file.js';

/** The schema of data/db.json (also read by import-lowdb). */
export const dbSchema = z.strictObject({
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

  /**
   * Loads db.json, creating it with the given segment size on first start. An existing file is
   * only read: a start writes nothing, so a relay on a full disk still starts.
   */
  static async open(path: string, segmentSize: number): Promise<PrimaryDb> {
    const adapter = new FsyncJsonFile(path, dbSchema);
    const stored = await adapter.read();
    const low = new Low<DbData>(
      adapter,
      stored ?? { v: 1, segmentSize, presence: {}, cursors: {} },
    );
    const db = new PrimaryDb(low);
    if (stored === null) await db.persist();
    return db;
  }

  get segmentSize(): number {
    return this.low.data.segmentSize;
  }

  cursor(identifier: string): number {
    return this.low.data.cursors[identifier] ?? 0;
  }

  /** Moves a cursor and writes it; if the write fails the cursor is put back, so a retry covers the same packets. */
  async setCursor(identifier: string, upTo: number): Promise<void> {
    const previous = this.low.data.cursors[identifier];
    this.low.data.cursors[identifier] = upTo;
    try {
      await this.persist();
    } catch (error) {
      if (this.low.data.cursors[identifier] === upTo)
        this.low.data.cursors[identifier] = previous ?? 0;
      throw error;
    }
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

  /** Removes an identifier's delivery cursor and last-seen time (a deleted account); writes only if it had one. */
  async forget(identifier: string): Promise<void> {
    this.online.delete(identifier);
    const { cursors, presence } = this.low.data;
    if (!(identifier in cursors) && !(identifier in presence)) return;
    // Rebuilt without the key: a dynamic delete of a record's property is what lint forbids.
    this.low.data.cursors = Object.fromEntries(
      Object.entries(cursors).filter(([id]) => id !== identifier),
    );
    this.low.data.presence = Object.fromEntries(
      Object.entries(presence).filter(([id]) => id !== identifier),
    );
    await this.persist();
  }

  /** Writes only if something changed since the last successful write (used at shutdown). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
    if (this.written < this.changed) await this.persist();
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
