import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  RelayError,
  type AppendResult,
  type Delivery,
  type GroupAppendOutcome,
  type GroupPacket,
  type MessageStore,
  type Packet,
  type PresenceUpdate,
  type RecordPage,
  type StoredRecord,
  type StoredStreamRecord,
} from '../core/index.js';
import { ensureDirectory, removeStaleTemps } from './atomic-file.js';
import { FreeSpace } from './free-space.js';
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
import { SegmentReader } from './segment-reader.js';
import type { ReadCounter } from './segment-records.js';
import { DEFAULT_STORAGE_LIMITS, quotaExceeded, type StorageLimits } from './storage-limits.js';
import { StoreCorruptError } from './store-corrupt-error.js';
import { UsageLedger } from './usage-ledger.js';

/** Records per segment: bounds every file, and spreads the cost of sealing one over this many messages. */
export const DEFAULT_SEGMENT_SIZE = 512;
/** Room kept for a segment's sidecar and a commit's trailer when checking the free-space floor. */
const SIDECAR_BYTES_PER_RECORD = 256;
const TRAILER_BYTES = 128;

/** A packet, or a group message with the members it goes to, waiting for its commit. */
type Pending =
  | {
      readonly packet: Packet;
      readonly members?: undefined;
      readonly serverTime: number;
      readonly resolve: (result: AppendResult) => void;
      readonly reject: (error: unknown) => void;
    }
  | {
      readonly packet: GroupPacket;
      readonly members: readonly string[];
      readonly serverTime: number;
      readonly resolve: (result: GroupAppendOutcome) => void;
      readonly reject: (error: unknown) => void;
    };

/** A record about to be written, with its line as it goes into the journal. */
interface Fresh {
  readonly record: StoredStreamRecord;
  readonly line: string;
  readonly bytes: number;
}

/**
 * The journal line of a packet's record, `JSON.stringify(record)` to the byte, built around the
 * packet's own JSON (which the push reuses): the packet is serialized once per message.
 */
function packetLine(record: StoredRecord, packetJson: string): string {
  return `{"pos":${record.pos},"serverTime":${record.serverTime},"seqFrom":${record.seqFrom},"seqTo":${record.seqTo},"packet":${packetJson}}`;
}

/**
 * The primary store on lowdb files: the log in bounded segment files under data/segments, an
 * in-memory index rebuilt at start from their sidecars, and data/db.json for presence and cursors.
 * Appends are group-committed: every packet that arrives while a write is on disk joins the next one.
 */
export class SegmentedStore implements MessageStore {
  private readonly index = new MessageIndex();
  private readonly usage = new UsageLedger();
  private readonly space: FreeSpace;
  private readonly reader: SegmentReader;
  private openRecords: StoredStreamRecord[] = [];
  private journal: Journal | undefined;
  /** Bytes of the open segment's journal that are durable; a reopened journal is cut back to them. */
  private journalBytes = 0;
  /** Each open record serialized once, so a commit joins strings instead of re-serializing the segment. */
  private openJson: string[] = [];
  private openSizes: number[] = [];
  /** Log position of the open segment's first record. */
  private openStart = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly directory: string,
    private readonly db: PrimaryDb,
    private readonly limits: StorageLimits,
  ) {
    this.space = new FreeSpace(directory);
    this.reader = new SegmentReader(directory, db.segmentSize, this.index, () => ({
      first: this.openStart,
      records: this.openRecords,
      sizes: this.openSizes,
    }));
  }

  /**
   * Opens the store in a data directory, creating it on first start and rebuilding the index.
   * A start writes nothing unless a crash left work to finish, and finishing it may wait for
   * room: a relay on a full disk starts and serves what it holds.
   */
  static async open(
    dataDir: string,
    segmentSize = DEFAULT_SEGMENT_SIZE,
    limits: StorageLimits = DEFAULT_STORAGE_LIMITS,
  ): Promise<SegmentedStore> {
    const directory = join(dataDir, 'segments');
    await ensureDirectory(directory);
    await removeStaleTemps(directory);
    await removeStaleTemps(dataDir);
    const store = new SegmentedStore(
      directory,
      await PrimaryDb.open(join(dataDir, 'db.json'), segmentSize),
      limits,
    );
    await store.load();
    return store;
  }

  private get segmentSize(): number {
    return this.db.segmentSize;
  }

  /** Bytes read from segment files since the store opened (for tests and benchmarks). */
  get readCounter(): Readonly<ReadCounter> {
    return this.reader.counter;
  }

  private async load(): Promise<void> {
    const sealed = await listSegments(this.directory);
    for (const k of sealed) {
      const sidecar = await readSidecar(this.directory, k, this.segmentSize);
      let entries = sidecar?.entries;
      if (entries === undefined) {
        // A crash between the segment and its sidecar: rebuilt without offsets, so this one
        // segment is always read whole. Without room for the sidecar, the next start tries again.
        const records = await readSegment(this.directory, k);
        if (records.length !== this.segmentSize) {
          throw new StoreCorruptError(
            segmentPath(this.directory, k),
            'a sealed segment is not full',
          );
        }
        await writeSidecar(this.directory, k, records).catch(() => undefined);
        entries = records.map(entryOf);
      }
      await this.reader.sealed(k, sidecar?.offsets ?? null);
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
    this.openStart = open * this.segmentSize;
    this.openRecords = records;
    this.openJson = records.map((record) => JSON.stringify(record));
    this.openSizes = this.openJson.map((line) => Buffer.byteLength(line));
    this.addEntries(open, records.map(entryOf));
    // A journal that filled just before a crash: sealed now if there is room, else before the next append.
    if (records.length === this.segmentSize) await this.seal().catch(() => undefined);
  }

  private addEntries(k: number, entries: readonly IndexEntry[]): void {
    entries.forEach((entry, i) => {
      const pos = k * this.segmentSize + i;
      try {
        this.index.add(pos, entry);
      } catch (cause) {
        if (!(cause instanceof IndexMismatchError)) throw cause;
        throw new StoreCorruptError(segmentPath(this.directory, k), cause.message, { cause });
      }
      this.usage.add(entry.from, this.reader.sizeOf(pos));
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

  /** Stores a group message once, with a place in each member's stream, in the next commit. */
  async appendGroup(
    packet: GroupPacket,
    members: readonly string[],
    serverTime: number,
  ): Promise<GroupAppendOutcome> {
    if (this.closed)
      throw new RelayError('STORE_FAILED', 'The relay is shutting down; send again shortly.');
    const existing = this.index.positionOf(packet.id);
    if (existing !== undefined) return { record: await this.recordAt(existing), duplicate: true };
    return new Promise<GroupAppendOutcome>((resolve, reject) => {
      this.queue.push({ packet, members, serverTime, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  /** The committed record of a packet id, found through the in-memory index (pending appends are not). */
  async storedRecord(id: string): Promise<StoredStreamRecord | undefined> {
    const pos = this.index.positionOf(id);
    return pos === undefined ? undefined : this.recordAt(pos);
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.commit(batch);
    }
    this.flushing = null;
  }

  /**
   * Bytes a commit may still write: free space above the floor, less what sealing the open
   * segment will need (a copy of its journal, and its sidecar).
   */
  private async room(): Promise<number> {
    return (
      (await this.space.available()) -
      this.limits.minFreeBytes -
      this.journalBytes -
      this.segmentSize * SIDECAR_BYTES_PER_RECORD -
      TRAILER_BYTES
    );
  }

  /** Writes one batch; nothing enters the index or is acknowledged until its segments are on disk. */
  private async commit(batch: readonly Pending[]): Promise<void> {
    const fresh: Fresh[] = [];
    const outcome: {
      pending: Pending;
      record?: StoredStreamRecord;
      packetJson?: string;
      first?: boolean;
      firstContact?: boolean;
      duplicateOf?: number;
      refusal?: RelayError;
    }[] = [];
    const inBatch = new Map<string, StoredStreamRecord>();
    const contacts = new Set<string>();
    const next = new Map<string, number>();
    const spent = new Map<string, { packets: number; bytes: number }>();
    const seqOf = (identifier: string) =>
      (next.get(identifier) ?? this.index.streamLength(identifier)) + 1;
    let room = Number.NEGATIVE_INFINITY;
    let failure: RelayError | undefined;
    try {
      room = await this.room();
    } catch (cause) {
      failure = storeFailed(cause);
    }
    for (const pending of batch) {
      const { packet } = pending;
      const stored = this.index.positionOf(packet.id);
      const sibling = inBatch.get(packet.id);
      if (stored !== undefined) outcome.push({ pending, duplicateOf: stored });
      else if (sibling) outcome.push({ pending, record: sibling, first: false });
      else {
        const pos = this.index.size + fresh.length;
        const record: StoredStreamRecord =
          pending.members === undefined
            ? {
                pos,
                serverTime: pending.serverTime,
                seqFrom: seqOf(pending.packet.from),
                seqTo:
                  pending.packet.to === pending.packet.from
                    ? seqOf(pending.packet.from)
                    : seqOf(pending.packet.to),
                packet: pending.packet,
              }
            : {
                pos,
                serverTime: pending.serverTime,
                kind: 'group',
                members: pending.members,
                seqs: pending.members.map(seqOf),
                packet: pending.packet,
              };
        const packetJson = 'seqFrom' in record ? JSON.stringify(record.packet) : '';
        const line = 'seqFrom' in record ? packetLine(record, packetJson) : JSON.stringify(record);
        const bytes = Buffer.byteLength(line);
        const refusal = this.refusal(packet.from, bytes, spent.get(packet.from), room);
        if (refusal) {
          outcome.push({ pending, refusal });
          continue;
        }
        // The line goes into the journal now and into the sealed segment later: it costs twice.
        room -= 2 * (bytes + 1);
        const sender = spent.get(packet.from) ?? { packets: 0, bytes: 0 };
        spent.set(packet.from, { packets: sender.packets + 1, bytes: sender.bytes + bytes });
        fresh.push({ record, line, bytes });
        inBatch.set(packet.id, record);
        if ('seqFrom' in record) {
          const { from, to } = record.packet;
          next.set(from, record.seqFrom);
          next.set(to, record.seqTo);
          const contact = `${from}:${to}`;
          const firstContact = !contacts.has(contact) && !this.index.hasContact(from, to);
          contacts.add(contact);
          outcome.push({ pending, record, packetJson, first: true, firstContact });
        } else {
          record.members.forEach((member, i) => next.set(member, record.seqs[i] ?? 0));
          outcome.push({ pending, record, first: true });
        }
      }
    }
    if (failure === undefined) {
      try {
        await this.writeRecords(fresh);
      } catch (cause) {
        failure = storeFailed(cause);
      }
    }
    for (const { record, bytes } of fresh) {
      if (this.index.positionOf(record.packet.id) !== record.pos) continue;
      this.usage.add(record.packet.from, bytes);
      // The journal line only: its later copy into a segment is held back by room() (journalBytes).
      this.space.wrote(bytes + 1);
    }
    for (const outcomeOf of outcome) {
      const { pending, record, first, firstContact, duplicateOf, refusal } = outcomeOf;
      if (refusal) pending.reject(refusal);
      else if (duplicateOf !== undefined) {
        this.recordAt(duplicateOf).then((original) => {
          pending.resolve({ record: original, duplicate: true });
        }, pending.reject);
      } else if (record && this.index.positionOf(record.packet.id) === record.pos) {
        if (first !== true || !('seqFrom' in record) || pending.members !== undefined) {
          pending.resolve({ record, duplicate: first !== true });
          continue;
        }
        const { from, to } = record.packet;
        const packetJson = outcomeOf.packetJson ?? JSON.stringify(record.packet);
        pending.resolve(
          from === to
            ? { record, duplicate: false, packetJson }
            : {
                record,
                duplicate: false,
                packetJson,
                pair: {
                  firstContact: firstContact === true,
                  twoWay: this.index.hasContact(to, from),
                  delivered: this.db.cursor(to),
                },
              },
        );
      } else {
        pending.reject(failure ?? storeFailed(undefined));
      }
    }
  }

  /** Why a new packet of `bytes` from a sender cannot be stored now, if it cannot. */
  private refusal(
    sender: string,
    bytes: number,
    inBatch: { packets: number; bytes: number } | undefined,
    room: number,
  ): RelayError | undefined {
    const used = this.usage.of(sender);
    const { quotaPackets, quotaBytes } = this.limits;
    if (
      used.packets + (inBatch?.packets ?? 0) + 1 > quotaPackets ||
      used.bytes + (inBatch?.bytes ?? 0) + bytes > quotaBytes
    ) {
      return quotaExceeded(this.limits);
    }
    if (2 * (bytes + 1) > room) {
      return new RelayError(
        'STORAGE_FULL',
        'The relay is almost out of disk space and refuses new messages from everyone; send again later, or tell its operator.',
      );
    }
    return undefined;
  }

  /**
   * Appends the new records to the open segment's journal (one write and one fdatasync per
   * segment touched), sealing each segment that fills. Nothing changes in memory if a write fails.
   */
  private async writeRecords(fresh: readonly Fresh[]): Promise<void> {
    let written = 0;
    while (written < fresh.length) {
      if (this.openRecords.length === this.segmentSize) await this.seal();
      const k = Math.floor(this.index.size / this.segmentSize);
      const added = fresh.slice(written, written + this.segmentSize - this.openRecords.length);
      const lines = added.map(({ line }) => line);
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
      for (const { record, bytes } of added) {
        this.openRecords.push(record);
        this.openSizes.push(bytes);
        this.index.add(record.pos, entryOf(record));
      }
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
    await this.reader.sealed(k, offsets);
    this.reader.remember(k, this.openRecords);
    this.openRecords = [];
    this.openJson = [];
    this.openSizes = [];
    this.openStart = (k + 1) * this.segmentSize;
    if (this.journal?.k === k) {
      await this.journal.close();
      this.journal = undefined;
    }
    await unlink(journalPath(this.directory, k)).catch(() => undefined);
    this.journalBytes = 0;
  }

  private async recordAt(pos: number): Promise<StoredStreamRecord> {
    const [record] = await this.reader.records([pos]);
    if (record?.pos !== pos)
      throw new StoreCorruptError(this.directory, `record ${pos} is missing`);
    return record;
  }

  /** The longest run of positions (from the start, or from the end) whose records fit in maxBytes; at least one. */
  private cut(positions: readonly number[], maxBytes: number, keep: 'oldest' | 'newest'): number[] {
    const ordered = keep === 'oldest' ? positions : [...positions].reverse();
    let bytes = 0;
    let count = 0;
    for (const pos of ordered) {
      bytes += this.reader.sizeOf(pos);
      if (bytes > maxBytes && count > 0) break;
      count++;
    }
    return keep === 'oldest'
      ? positions.slice(0, count)
      : positions.slice(positions.length - count);
  }

  async since(
    identifier: string,
    after: number,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<RecordPage> {
    const { positions, more } = this.index.streamSlice(identifier, after, limit);
    const kept = this.cut(positions, maxBytes, 'oldest');
    return {
      records: await this.reader.records(kept),
      more: more || kept.length < positions.length,
    };
  }

  async conversation(
    identifier: string,
    peer: string,
    before: number | undefined,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<RecordPage> {
    return this.newest(this.index.conversationPage(identifier, peer, before, limit), maxBytes);
  }

  async groupConversation(
    identifier: string,
    group: string,
    before: number | undefined,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<RecordPage> {
    return this.newest(this.index.groupPage(identifier, group, before, limit), maxBytes);
  }

  /** The newest records of a history page that fit in maxBytes. */
  private async newest(
    { positions, more }: { positions: number[]; more: boolean },
    maxBytes: number,
  ): Promise<RecordPage> {
    const kept = this.cut(positions, maxBytes, 'newest');
    return {
      records: await this.reader.records(kept),
      more: more || kept.length < positions.length,
    };
  }

  peersOf(identifier: string): Promise<readonly string[]> {
    return Promise.resolve(this.index.peersOf(identifier));
  }

  /** Moves the delivery cursor forward and returns the packets of others it newly covers, from the index. */
  async acknowledge(identifier: string, upTo: number): Promise<readonly Delivery[]> {
    const previous = this.db.cursor(identifier);
    const target = Math.min(upTo, this.index.streamLength(identifier));
    if (target <= previous) return [];
    try {
      await this.db.setCursor(identifier, target);
    } catch (cause) {
      throw new RelayError(
        'STORE_FAILED',
        'The relay could not record the receipt; send it again.',
        { cause },
      );
    }
    const { positions } = this.index.streamSlice(identifier, previous, target - previous);
    const covered: Delivery[] = [];
    for (const pos of positions) {
      const entry = this.index.entryAt(pos);
      if (entry.to === identifier && entry.from !== identifier)
        covered.push({ id: entry.id, from: entry.from, seqFrom: entry.seqFrom });
    }
    return covered;
  }

  deliveredUpTo(identifier: string): Promise<number> {
    return Promise.resolve(this.db.cursor(identifier));
  }

  /** Best effort on disk: on a full disk the change stays in memory and goes out with the next write. */
  async setPresence(update: PresenceUpdate): Promise<void> {
    await this.db.setPresence(update).catch(() => undefined);
  }

  getPresence(identifier: string): Promise<PresenceUpdate | undefined> {
    return Promise.resolve(this.db.presence(identifier));
  }

  /** Removes a deleted account's delivery cursor and last-seen time from db.json (its packets stay: docs/storage.md). */
  async forget(identifier: string): Promise<void> {
    await this.db.forget(identifier);
  }

  /** Finishes pending appends; rejects if the last write of db.json fails (every packet is already durable). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.journal?.close();
    this.journal = undefined;
    await this.db.flush();
  }
}

function storeFailed(cause: unknown): RelayError {
  return new RelayError(
    'STORE_FAILED',
    'The relay could not store the packet; send it again.',
    cause === undefined ? undefined : { cause },
  );
}
