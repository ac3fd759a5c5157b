import { stat } from 'node:fs/promises';
import type { StoredStreamRecord } from '../core/index.js';
import type { MessageIndex } from './message-index.js';
import { readSegment, segmentPath } from './segment-files.js';
import { readRecords, type ReadCounter } from './segment-records.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/** Approximate bytes of parsed segments kept in memory (segments just sealed, and old ones read whole). */
const SEGMENT_CACHE_BYTES = 64 * 1024 * 1024;

/** The open segment as the store holds it: parsed records and the byte size of each one's line. */
export interface OpenSegment {
  /** Log position of its first record. */
  readonly first: number;
  readonly records: readonly StoredStreamRecord[];
  readonly sizes: readonly number[];
}

/**
 * The read side of the segmented store: knows where each record of a sealed segment lies (the
 * offsets of its sidecar) and how many bytes every record takes, so that a page is cut by bytes
 * before anything is read, and then reads exactly the records it returns. A sealed segment whose
 * sidecar has no offsets (written before they existed, or rebuilt after a crash) is read whole.
 */
export class SegmentReader {
  /** Bytes read from segment files since start: what a page costs on disk. */
  readonly counter: ReadCounter = { bytes: 0 };
  private readonly offsets = new Map<number, readonly number[]>();
  /** Segments without offsets: the estimated size of each record (file size over records). */
  private readonly estimated = new Map<number, number>();
  private readonly cache = new Map<number, readonly StoredStreamRecord[]>();
  private readonly cacheSizes = new Map<number, number>();
  private cacheBytes = 0;

  constructor(
    private readonly directory: string,
    private readonly segmentSize: number,
    private readonly index: MessageIndex,
    private readonly openSegment: () => OpenSegment,
  ) {}

  /** Registers a sealed segment: its record offsets, or (without them) its file size to estimate from. */
  async sealed(k: number, offsets: readonly number[] | null): Promise<void> {
    if (offsets) {
      this.offsets.set(k, offsets);
      return;
    }
    const { size } = await stat(segmentPath(this.directory, k));
    this.estimated.set(k, Math.ceil(size / this.segmentSize));
  }

  /** Bytes of the record at a log position, from offsets or the open segment, without reading it. */
  sizeOf(pos: number): number {
    const k = Math.floor(pos / this.segmentSize);
    const i = pos - k * this.segmentSize;
    const offsets = this.offsets.get(k);
    if (offsets) return (offsets[i + 1] ?? 0) - (offsets[i] ?? 0) - 1;
    const estimated = this.estimated.get(k);
    if (estimated !== undefined) return estimated;
    const open = this.openSegment();
    return open.sizes[pos - open.first] ?? 0;
  }

  /** Keeps a parsed segment, forgetting the least recently used ones beyond SEGMENT_CACHE_BYTES. */
  remember(k: number, records: readonly StoredStreamRecord[]): void {
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

  /** The records at ascending positions: from memory, by their offsets, or (old sidecars) whole. */
  async records(positions: readonly number[]): Promise<StoredStreamRecord[]> {
    const out: StoredStreamRecord[] = [];
    for (let i = 0; i < positions.length;) {
      const k = Math.floor((positions[i] ?? 0) / this.segmentSize);
      let j = i;
      while (j < positions.length && Math.floor((positions[j] ?? 0) / this.segmentSize) === k) j++;
      out.push(...(await this.fromSegment(k, positions.slice(i, j))));
      i = j;
    }
    return out;
  }

  private async fromSegment(
    k: number,
    positions: readonly number[],
  ): Promise<StoredStreamRecord[]> {
    const open = this.openSegment();
    const cached = this.cache.get(k);
    const offsets = this.offsets.get(k);
    let records: readonly StoredStreamRecord[];
    const first = k * this.segmentSize;
    if (open.first === first) records = open.records;
    else if (cached) {
      this.cache.delete(k);
      this.cache.set(k, cached);
      records = cached;
    } else if (offsets) return this.readAlone(k, positions, offsets);
    else {
      records = await readSegment(this.directory, k);
      this.counter.bytes += (await stat(segmentPath(this.directory, k))).size;
      this.remember(k, records);
    }
    return positions.map((pos) => {
      const record = records[pos - first];
      if (record?.pos !== pos)
        throw new StoreCorruptError(segmentPath(this.directory, k), `record ${pos} is missing`);
      return record;
    });
  }

  private async readAlone(
    k: number,
    positions: readonly number[],
    offsets: readonly number[],
  ): Promise<StoredStreamRecord[]> {
    const spans = positions.map((pos) => {
      const i = pos - k * this.segmentSize;
      return { pos, start: offsets[i] ?? 0, end: (offsets[i + 1] ?? 0) - 1 };
    });
    const records = await readRecords(this.directory, k, spans, this.counter);
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
}
