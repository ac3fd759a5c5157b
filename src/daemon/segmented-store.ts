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
import { MessageIndex, IndexMismatchError } from './message-index.js';
import { PrimaryDb } from './primary-db.js';
import {
  entryOf,
  listSegments,
  readSegment,
  readSidecar,
  segmentPath,
  writeSegment,
  writeSidecar,
} from './segment-files.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/** Records per segment file: bounds the bytes rewritten per commit, whatever the history's size. */
export const DEFAULT_SEGMENT_SIZE = 256;
/** Parsed segments kept in memory for sync and history reads. */
const SEGMENT_CACHE_SIZE = 64;

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
  private openRecords: StoredRecord[] = [];
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
    const segments = await listSegments(this.directory);
    for (const k of segments) {
      const last = k === segments.length - 1;
      let entries = last ? null : await readSidecar(this.directory, k, this.segmentSize);
      if (entries === null) {
        const records = await readSegment(this.directory, k);
        if (records.length > this.segmentSize || (!last && records.length !== this.segmentSize)) {
          throw new StoreCorruptError(
            segmentPath(this.directory, k),
            'the segment has the wrong size',
          );
        }
        entries = records.map(entryOf);
        if (last && records.length < this.segmentSize) this.openRecords = records;
        else await writeSidecar(this.directory, k, records);
      }
      entries.forEach((entry, i) => {
        try {
          this.index.add(k * this.segmentSize + i, entry);
        } catch (cause) {
          if (!(cause instanceof IndexMismatchError)) throw cause;
          throw new StoreCorruptError(segmentPath(this.directory, k), cause.message, { cause });
        }
      });
    }
  }

  size(): number {
    return this.index.size;
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
    const outcome: { pending: Pending; record?: StoredRecord; duplicateOf?: number }[] = [];
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
      else if (sibling) outcome.push({ pending, record: sibling });
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
        outcome.push({ pending, record });
      }
    }
    let written: { open: StoredRecord[]; sealed: Map<number, StoredRecord[]> };
    try {
      written = await this.writeRecords(fresh);
    } catch (cause) {
      const error = new RelayError(
        'STORE_FAILED',
        'The relay could not store the packet; send it again.',
        { cause },
      );
      for (const { pending } of outcome) pending.reject(error);
      return;
    }
    for (const record of fresh) this.index.add(record.pos, entryOf(record));
    this.openRecords = written.open;
    for (const [k, records] of written.sealed) this.cache.set(k, records);
    for (const { pending, record, duplicateOf } of outcome) {
      if (record) pending.resolve({ record, duplicate: record.packet !== pending.packet });
      else if (duplicateOf !== undefined) {
        this.recordAt(duplicateOf).then(
          (original) => pending.resolve({ record: original, duplicate: true }),
          pending.reject,
        );
      }
    }
  }

  /** Writes the open segment with the new records, and the next ones they spill into. */
  private async writeRecords(
    fresh: readonly StoredRecord[],
  ): Promise<{ open: StoredRecord[]; sealed: Map<number, StoredRecord[]> }> {
    const sealed = new Map<number, StoredRecord[]>();
    let open = [...this.openRecords];
    let k = Math.floor(this.index.size / this.segmentSize);
    let written = 0;
    while (written < fresh.length) {
      const room = this.segmentSize - open.length;
      open = open.concat(fresh.slice(written, written + room));
      written += Math.min(room, fresh.length - written);
      await writeSegment(this.directory, k, open);
      if (open.length === this.segmentSize) {
        await writeSidecar(this.directory, k, open);
        sealed.set(k, open);
        open = [];
        k++;
      }
    }
    return { open, sealed };
  }

  private async segment(k: number): Promise<readonly StoredRecord[]> {
    if (k === Math.floor(this.index.size / this.segmentSize)) return this.openRecords;
    const cached = this.cache.get(k);
    if (cached) {
      this.cache.delete(k);
      this.cache.set(k, cached);
      return cached;
    }
    const records = await readSegment(this.directory, k);
    this.cache.set(k, records);
    if (this.cache.size > SEGMENT_CACHE_SIZE) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return records;
  }

  private async recordAt(pos: number): Promise<StoredRecord> {
    const records = await this.segment(Math.floor(pos / this.segmentSize));
    const record = records[pos % this.segmentSize];
    if (record?.pos !== pos)
      throw new StoreCorruptError(this.directory, `record ${pos} is missing`);
    return record;
  }

  private async records(positions: readonly number[]): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    for (const pos of positions) out.push(await this.recordAt(pos));
    return out;
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

  peersOf(identifier: string): readonly string[] {
    return this.index.peersOf(identifier);
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

  deliveredUpTo(identifier: string): number {
    return this.db.cursor(identifier);
  }

  /** Whether the recipient has acknowledged the packet at this position. */
  isDelivered(record: StoredRecord): boolean {
    return this.db.cursor(record.packet.to) >= record.seqTo;
  }

  async setPresence(update: PresenceUpdate): Promise<void> {
    await this.db.setPresence(update);
  }

  getPresence(identifier: string): PresenceUpdate | undefined {
    return this.db.presence(identifier);
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.db.persist();
  }
}
