import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  isIdentifier,
  isStoredGroupRecord,
  type RetiredIdentifier,
  type StoredStreamRecord,
  type UserRecord,
} from '../core/index.js';
import { FsyncJsonFile } from './fsync-json-file.js';
import { userRecordSchema } from './key-directory.js';
import { dbSchema, type DbData } from './primary-db.js';
import { readRetired } from './retired-files.js';
import {
  journalPath,
  listJournals,
  listSegments,
  readJournal,
  readSegment,
  segmentPath,
} from './segment-files.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/** The directory given to import-lowdb is not a relay's data directory at all. */
export class ImportSourceError extends Error {
  readonly code = 'IMPORT_SOURCE_MISSING';

  constructor(dataDir: string, missing: string) {
    super(
      `${dataDir} is not a MetaChat data directory (it has no ${missing}); give the --data directory of a relay that ran.`,
    );
    this.name = 'ImportSourceError';
  }
}

/** A delivery cursor or a last-seen time of one identifier, as db.json keeps them. */
export interface StreamState {
  readonly identifier: string;
  readonly delivered: number;
  readonly lastSeen: number | null;
}

/**
 * A stopped relay's data directory, read without writing a byte to it (no temp-file cleanup, no
 * journal cut back, no sidecar rebuilt): users, db.json and the server secret at once, the log
 * segment by segment. Every file goes through its schema, and the log is checked as a whole: one
 * position after another, packet ids unique, each stream's seqs 1, 2, 3, … without a gap.
 */
export class LowdbSource {
  /** Each identifier's stream length so far, as `records()` has read it. */
  readonly lengths = new Map<string, number>();

  private constructor(
    readonly dataDir: string,
    readonly users: readonly UserRecord[],
    /** The tombstones of deleted accounts (data/keys/retired/), by identifier. */
    readonly retired: readonly RetiredIdentifier[],
    readonly db: DbData,
    readonly secret: Buffer,
  ) {}

  /** Reads the small parts of a data directory; the log is read by `records()`. */
  static async open(dataDir: string): Promise<LowdbSource> {
    const db = await new FsyncJsonFile(join(dataDir, 'db.json'), dbSchema).read();
    if (!db) throw new ImportSourceError(dataDir, 'db.json');
    const keys = join(dataDir, 'keys');
    const names = await readdir(keys).catch(() => {
      throw new ImportSourceError(dataDir, 'keys directory');
    });
    const users: UserRecord[] = [];
    for (const name of names.filter((n) => isIdentifier(n.replace(/\.json$/, ''))).sort()) {
      const path = join(keys, name);
      const user = await new FsyncJsonFile(path, userRecordSchema).read();
      if (user?.identifier !== name.slice(0, -5))
        throw new StoreCorruptError(
          path,
          'it is not the key file of the identifier it is named by',
        );
      users.push(user);
    }
    const secretPath = join(dataDir, 'server-secret.key');
    const text = await readFile(secretPath, 'utf8').catch(() => {
      throw new ImportSourceError(dataDir, 'server-secret.key');
    });
    if (!/^[0-9a-f]{64}$/.test(text.trim()))
      throw new StoreCorruptError(secretPath, 'it is not a 32-byte hex secret');
    const retired = await readRetired(keys);
    return new LowdbSource(dataDir, users, retired, db, Buffer.from(text.trim(), 'hex'));
  }

  /** The log in position order, one segment (or the open journal) at a time, checked as it goes. */
  async *records(): AsyncGenerator<StoredStreamRecord[]> {
    const directory = join(this.dataDir, 'segments');
    const size = this.db.segmentSize;
    const sealed = await listSegments(directory).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    });
    const ids = new Set<string>();
    this.lengths.clear();
    for (const k of sealed) {
      const records = await readSegment(directory, k);
      if (records.length !== size)
        throw new StoreCorruptError(segmentPath(directory, k), 'a sealed segment is not full');
      this.check(records, k * size, ids, segmentPath(directory, k));
      yield records;
    }
    const open = sealed.length;
    for (const k of await listJournals(directory).catch(() => [])) {
      if (k > open)
        throw new StoreCorruptError(
          journalPath(directory, k),
          'a journal has no segment before it',
        );
    }
    const { records } = await readJournal(directory, open, size, false).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [] };
      throw error;
    });
    this.check(records, open * size, ids, journalPath(directory, open));
    if (records.length > 0) yield records;
  }

  /** Cursors and last-seen times, by identifier; a cursor past its stream's end is corrupt. */
  states(): StreamState[] {
    const { cursors, presence } = this.db;
    const identifiers = new Set([
      ...Object.keys(cursors).filter((id) => (cursors[id] ?? 0) > 0),
      ...Object.keys(presence),
    ]);
    return [...identifiers].sort().map((identifier) => {
      const delivered = cursors[identifier] ?? 0;
      if (delivered > (this.lengths.get(identifier) ?? 0))
        throw new StoreCorruptError(
          join(this.dataDir, 'db.json'),
          'a delivery cursor lies past the end of its stream',
        );
      return { identifier, delivered, lastSeen: presence[identifier]?.lastSeen ?? null };
    });
  }

  private check(
    records: readonly StoredStreamRecord[],
    first: number,
    ids: Set<string>,
    path: string,
  ) {
    records.forEach((record, i) => {
      if (record.pos !== first + i)
        throw new StoreCorruptError(path, `record ${String(first + i)} is out of place`);
      const { id } = record.packet;
      if (ids.has(id)) throw new StoreCorruptError(path, `packet id ${id} is stored twice`);
      ids.add(id);
      const next = (identifier: string) => (this.lengths.get(identifier) ?? 0) + 1;
      if (isStoredGroupRecord(record)) {
        if (record.members.some((member, j) => record.seqs[j] !== next(member)))
          throw new StoreCorruptError(path, `record ${String(record.pos)} breaks a stream's seqs`);
        record.members.forEach((member, j) => this.lengths.set(member, record.seqs[j] ?? 0));
        return;
      }
      const { from, to } = record.packet;
      const gapless =
        record.seqFrom === next(from) &&
        (from === to ? record.seqTo === record.seqFrom : record.seqTo === next(to));
      if (!gapless)
        throw new StoreCorruptError(path, `record ${String(record.pos)} breaks a stream's seqs`);
      this.lengths.set(from, record.seqFrom);
      this.lengths.set(to, record.seqTo);
    });
  }
}
