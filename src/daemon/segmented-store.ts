import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  RelayError,
  type AppendResult,
  type MessageStore,
  type Packet,
  type PresenceUpdate,
  type RecordPage,
  type StoredRecord,
} from '../core/index.js';
import { ensureDirectory, removeStaleTemps } from './atomic-file.js';
import { IndexMismatchError, MessageIndex, type IndexEntry } from './message-index.js';
import { PrimaryDb } from './primary-db.js';
import {
  entryOf,
  Journal,
  journalPath,
  listJournals,
  listSegments,
  readJournal,
  readSegment,
  readSidecar,
  segmentPath,
  writeSegment,
  writeSidecar,
} from './segment-files.js';
import { readRecords } from './segment-records.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/** Records per segment: bounds every file, and spreads the cost of sealing one over this many messages. */
export const DEFAULT_SEGMENT_SIZE = 512;
/** Approximate bytes of parsed segments kept in memory for sync and history reads. */
const SEGMENT_CACHE_BYTES = 64 * 1024 * 1024;
/** A page that wants more than this fraction of a segment's records reads (and caches) it whole. */
const READ_WHOLE_FRACTION = 8;

interface Pending {
  readonly packet: Packet;
  readonly serverTime: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The primary store on lowdb files: the log in bounded segment files under data/segments, an
 * in-memory index rebuilt at start from their sidecars, and data/db.json for presence and cursors.
 * Appends are group-committed: every packet that arrives while a write is on disk joins the next one.
 */
export class SegmentedStore implements MessageStore {
  private readonly index = new MessageIndex();
  private readonly cache = new Map<number, readonly StoredRecord[]>();
  private readonly cacheSizes = new Map<number, number>();
  /** Where each record of a sealed segment lies in its file, from the sidecars. */
  private readonly offsets = new Map<number, readonly number[]>();
  private cacheBytes = 0;
  private openRecords: StoredRecord[] = [];
  private journal: Journal | undefined;
  /** Bytes of the open segment's journal that are durable; a reopened journal is cut back to them. */
  private journalBytes = 0;
  /** Each open record serialized once, so a commit joins strings instead of re-serializing the segment. */
  private openJson: string[] = [];
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly directory: string,
    private readonly db: PrimaryDb,
  ) {}

  /** Opens the store in a data directory, creating it on first start and rebuilding the index. */
  static async open(dataDir: string, segmentSize = DEFAULT_SEGMENT_SIZE): Promise<SegmentedStore> {
    const directory = join(dataDir, 'segments');
    await ensureDirectory(directory);
    await removeStaleTemps(directory);
    await removeStaleTemps(dataDir);
    const store = new SegmentedStore(
      directory,
      await PrimaryDb.open(join(dataDir, 'db.json'), segmentSize),
    );
    await store.load();
    return store;
  }

  private get segmentSize(): number {
    return this.db.segmentSize;
  }

  private async load(): Promise<void> {
    const sealed = await listSegments(this.directory);
    for (const k of sealed) {
      const sidecar = await readSidecar(this.directory, k, this.segmentSize);
      let entries = sidecar?.entries;
      if (entries === undefined) {
        // A crash between the segment and its sidecar: rebuilt without offsets, so this one
        // segment is always read whole.
        const records = await readSegment(this.directory, k);
        if (records.length !== this.segmentSize) {
          throw new StoreCorruptError(
            segmentPath(this.directory, k),
            'a sealed segment is not full',
          );
        }
        await writeSidecar(this.directory, k, records);
        entries = records.map(entryOf);
      }
      if (sidecar?.offsets) this.offsets.set(k, sidecar.offsets);
      this.addEntries(k, entries);
    }
    const open = sealed.length;
    for (const k of await listJournals(this.directory)) {
      if (k < open) await unlink(journalPath(this.directory, k));
      else if (k > open)
        throw new StoreCorruptError(
          journalPath(this.directory, k),
          'a journal has no segment before it',
        );
    }
    const { records, bytes } = await readJournal(this.directory, open, this.segmentSize);
    this.journalBytes = bytes;
    this.addEntries(open, records.map(entryOf));
    this.openRecords = records;
    this.openJson = records.map((record) => JSON.stringify(record));
    if (records.length === this.segmentSize) await this.seal();
  }

  private addEntries(k: number, entries: readonly IndexEntry[]): void {
    entries.forEach((entry, i) => {
      try {
        this.index.add(k * this.segmentSize + i, entry);
      } catch (cause) {
        if (!(cause instanceof IndexMismatchError)) throw cause;
        throw new StoreCorruptError(segmentPath(this.directory, k), cause.message, { cause });
      }
    });
  }

  size(): Promise<number> {
    return Promise.resolve(this.index.size);
  }

  async append(packet: Packet, serverTime: number): Promise<AppendResult> {
    if (this.closed)
      throw new RelayError('STORE_FAILED', 'The relay is shutting down; send again shortly.');
    const existing = this.index.positionOf(packet.id);
    if (existing !== undefined) return { record: await this.recordAt(existing), duplicate: true };
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ packet, serverTime, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.commit(batch);
    }
    this.flushing = null;
  }

  /** Writes one batch; nothing enters the index or is acknowledged until its segments are on disk. */
  private async commit(batch: readonly Pending[]): Promise<void> {
    const fresh: StoredRecord[] = [];
    const outcome: {
      pending: Pending;
      record?: StoredRecord;
      first?: boolean;
      duplicateOf?: number;
    }[] = [];
    const inBatch = new Map<string, StoredRecord>();
    const next = new Map<string, number>();
    const nextSeq = (identifier: string) => {
      const seq = (next.get(identifier) ?? this.index.streamLength(identifier)) + 1;
      next.set(identifier, seq);
      return seq;
    };
    for (const pending of batch) {
      const { packet } = pending;
      const stored = this.index.positionOf(packet.id);
      const sibling = inBatch.get(packet.id);
      if (stored !== undefined) outcome.push({ pending, duplicateOf: stored });
      else if (sibling) outcome.push({ pending, record: sibling, first: false });
      else {
        const seqFrom = nextSeq(packet.from);
        const seqTo = packet.to === packet.from ? seqFrom : nextSeq(packet.to);
        const record = {
          pos: this.index.size + fresh.length,
          serverTime: pending.serverTime,
          seqFrom,
          seqTo,
          packet,
        };
        fresh.push(record);
        inBatch.set(packet.id, record);
        outcome.push({ pending, record, first: true });
      }
    }
    let failure: RelayError | undefined;
    try {
      await this.writeRecords(fresh);
    } catch (cause) {
      failure = new RelayError(
        'STORE_FAILED',
        'The relay could not store the packet; send it again.',
        { cause },
      );
    }
    for (const { pending, record, first, duplicateOf } of outcome) {
      if (duplicateOf !== undefined) {
        this.recordAt(duplicateOf).then((original) => {
          pending.resolve({ record: original, duplicate: true });
        }, pending.reject);
      } else if (record && this.index.positionOf(record.packet.id) === record.pos) {
        pending.resolve({ record, duplicate: first !== true });
      } else {
        pending.reject(
          failure ??
            new RelayError('STORE_FAILED', 'The relay could not store the packet; send it again.'),
        );
      }
    }
  }

  /**
   * Appends the new records to the open segment's journal (one write and one fdatasync per
   * segment touched), sealing each segment that fills. Nothing changes in memory if a write fails.
   */
  private async writeRecords(fresh: readonly StoredRecord[]): Promise<void> {
    let written = 0;
    while (written < fresh.length) {
      if (this.openRecords.length === this.segmentSize) await this.seal();
      const k = Math.floor(this.index.size / this.segmentSize);
      const added = fresh.slice(written, written + this.segmentSize - this.openRecords.length);
      const lines = added.map((record) => JSON.stringify(record));
      if (this.journal?.k !== k) {
        await this.journal?.close();
        this.journal = undefined;
        this.journal = await Journal.open(this.directory, k, this.journalBytes);
      }
      try {
        await this.journal.append(lines);
        this.journalBytes = this.journal.size;
      } catch (error) {
        await this.journal.close().catch(() => undefined);
        this.journal = undefined;
        throw error;
      }
      for (const record of added) this.index.add(record.pos, entryOf(record));
      this.openRecords = this.openRecords.concat(added);
      this.openJson = this.openJson.concat(lines);
      written += added.length;
    }
    if (this.openRecords.length === this.segmentSize) await this.seal();
  }

  /** Turns the full open segment into a sealed lowdb file and its sidecar, then drops the journal. */
  private async seal(): Promise<void> {
    const k = Math.floor((this.index.size - 1) / this.segmentSize);
    const offsets = await writeSegment(this.directory, k, this.openJson);
    await writeSidecar(this.directory, k, this.openRecords, offsets);
    this.offsets.set(k, offsets);
    this.remember(k, this.openRecords);
    this.openRecords = [];
    this.openJson = [];
    if (this.journal?.k === k) {
      await this.journal.close();
      this.journal = undefined;
    }
    await unlink(journalPath(this.directory, k)).catch(() => undefined);
    this.journalBytes = 0;
  }

  /** Caches a parsed segment, forgetting the least recently used ones beyond SEGMENT_CACHE_BYTES. */
  private remember(k: number, records: readonly StoredRecord[]): void {
    const bytes = records.reduce((sum, record) => sum + record.packet.ct.length + 1400, 0);
    this.cacheBytes += bytes - (this.cacheSizes.get(k) ?? 0);
    this.cache.set(k, records);
    this.cacheSizes.set(k, bytes);
    for (const oldest of this.cache.keys()) {
      if (this.cacheBytes <= SEGMENT_CACHE_BYTES || oldest === k) break;
      this.cacheBytes -= this.cacheSizes.get(oldest) ?? 0;
      this.cache.delete(oldest);
      this.cacheSizes.delete(oldest);
    }
  }

  private async segment(k: number): Promise<readonly StoredRecord[]> {
    if (this.openRecords[0]?.pos === k * this.segmentSize) return this.openRecords;
    const cached = this.cache.get(k);
    if (cached) {
      this.cache.delete(k);
      this.cache.set(k, cached);
      return cached;
    }
    const records = await readSegment(this.directory, k);
    this.remember(k, records);
    return records;
  }

  private async recordAt(pos: number): Promise<StoredRecord> {
    const records = await this.segment(Math.floor(pos / this.segmentSize));
    const record = records[pos % this.segmentSize];
    if (record?.pos !== pos)
      throw new StoreCorruptError(this.directory, `record ${pos} is missing`);
    return record;
  }

  /**
   * The records at ascending positions. A sealed segment that is not in memory and of which the
   * page wants only a few records is read record by record (by the offsets in its sidecar);
   * otherwise the whole segment is read and cached.
   */
  private async records(positions: readonly number[]): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    for (let i = 0; i < positions.length;) {
      const k = Math.floor((positions[i] ?? 0) / this.segmentSize);
      let j = i;
      while (j < positions.length && Math.floor((positions[j] ?? 0) / this.segmentSize) === k) j++;
      const inSegment = positions.slice(i, j);
      const offsets = this.offsets.get(k);
      const inMemory = this.cache.has(k) || this.openRecords[0]?.pos === k * this.segmentSize;
      if (!inMemory && offsets && inSegment.length <= this.segmentSize / READ_WHOLE_FRACTION) {
        out.push(...(await this.readAlone(k, inSegment, offsets)));
      } else {
        for (const pos of inSegment) out.push(await this.recordAt(pos));
      }
      i = j;
    }
    return out;
  }

  private async readAlone(
    k: number,
    positions: readonly number[],
    offsets: readonly number[],
  ): Promise<StoredRecord[]> {
    const spans = positions.map((pos) => {
      const i = pos - k * this.segmentSize;
      return { pos, start: offsets[i] ?? 0, end: (offsets[i + 1] ?? 0) - 1 };
    });
    const records = await readRecords(this.directory, k, spans);
    for (const record of records) {
      if (this.index.positionOf(record.packet.id) !== record.pos) {
        throw new StoreCorruptError(
          segmentPath(this.directory, k),
          `record ${record.pos} does not match the index`,
        );
      }
    }
    return records;
  }

  async since(identifier: string, after: number, limit: number): Promise<RecordPage> {
    const { positions, more } = this.index.streamSlice(identifier, after, limit);
    return { records: await this.records(positions), more };
  }

  async conversation(
    identifier: string,
    peer: string,
    before: number | undefined,
    limit: number,
  ): Promise<RecordPage> {
    const { positions, more } = this.index.conversationPage(identifier, peer, before, limit);
    return { records: await this.records(positions), more };
  }

  peersOf(identifier: string): Promise<readonly string[]> {
    return Promise.resolve(this.index.peersOf(identifier));
  }

  /** Moves the delivery cursor forward and returns the packets of others it newly covers. */
  async acknowledge(identifier: string, upTo: number): Promise<readonly StoredRecord[]> {
    const previous = this.db.cursor(identifier);
    const target = Math.min(upTo, this.index.streamLength(identifier));
    if (target <= previous) return [];
    await this.db.setCursor(identifier, target);
    const { positions } = this.index.streamSlice(identifier, previous, target - previous);
    return (await this.records(positions)).filter(
      (r) => r.packet.to === identifier && r.packet.from !== identifier,
    );
  }

  deliveredUpTo(identifier: string): Promise<number> {
    return Promise.resolve(this.db.cursor(identifier));
  }

  async setPresence(update: PresenceUpdate): Promise<void> {
    await this.db.setPresence(update);
  }

  getPresence(identifier: string): Promise<PresenceUpdate | undefined> {
    return Promise.resolve(this.db.presence(identifier));
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.journal?.close();
    this.journal = undefined;
    await this.db.persist();
  }
}
