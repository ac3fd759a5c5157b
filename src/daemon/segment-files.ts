import { open, readdir, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { z } from 'zod';
import { packetSchema, type StoredRecord } from '../core/index.js';
import { writeFileAtomic } from './atomic-file.js';
import { FsyncJsonFile } from './fsync-json-file.js';
import type { IndexEntry } from './message-index.js';
import { StoreCorruptError } from './store-corrupt-error.js';

const ID = /^[0-9a-f]{32}$/;
const IDENTIFIER = /^[0-9a-f]{64}$/;
const SEGMENT_NAME = /^(\d{8})\.json$/;

const recordSchema = z.strictObject({
  pos: z.number().int().min(0),
  serverTime: z.number().int().min(0),
  seqFrom: z.number().int().min(1),
  seqTo: z.number().int().min(1),
  packet: packetSchema,
});

/** A segment: up to `segmentSize` consecutive records of the log, one lowdb file. */
export const segmentSchema = z.strictObject({
  v: z.literal(1),
  segment: z.number().int().min(0),
  records: z.array(recordSchema),
});
/** A segment file's contents. */
export type SegmentData = z.infer<typeof segmentSchema>;

/** A tuple per record: [id, from, to, seqFrom, seqTo, serverTime]. */
type SidecarEntry = [string, string, string, number, number, number];

/** The sidecar of a full segment: its index entries without bodies, read at start instead of the segment. */
const sidecarSchema = z.strictObject({
  v: z.literal(1),
  segment: z.number().int().min(0),
  entries: z.array(z.unknown()),
});

/** Zero-padded file name of segment k. */
export function segmentPath(directory: string, k: number): string {
  return join(directory, `${String(k).padStart(8, '0')}.json`);
}

function sidecarPath(directory: string, k: number): string {
  return join(directory, `${String(k).padStart(8, '0')}.idx.json`);
}

/** The numbers of the segments present, which must run 0, 1, 2, … without a gap. */
export async function listSegments(directory: string): Promise<number[]> {
  const numbers = (await readdir(directory))
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  numbers.forEach((n, i) => {
    if (n !== i) throw new StoreCorruptError(segmentPath(directory, i), 'the segment is missing');
  });
  return numbers;
}

/** Reads and validates one segment file. */
export async function readSegment(directory: string, k: number): Promise<StoredRecord[]> {
  const path = segmentPath(directory, k);
  const data = await new FsyncJsonFile(path, segmentSchema).read();
  if (data?.segment !== k)
    throw new StoreCorruptError(path, 'the segment is missing or misnumbered');
  return data.records;
}

/**
 * Writes one segment durably (atomic replace, fsync). Takes each record already serialized: the
 * file is the same JSON lowdb reads back, built by joining instead of re-serializing every record.
 */
export async function writeSegment(
  directory: string,
  k: number,
  recordJson: readonly string[],
): Promise<void> {
  await writeFileAtomic(
    segmentPath(directory, k),
    `{"v":1,"segment":${k},"records":[${recordJson.join(',')}]}`,
  );
}

/** The index entry of a stored record. */
export function entryOf(record: StoredRecord): IndexEntry {
  const { packet } = record;
  return {
    id: packet.id,
    from: packet.from,
    to: packet.to,
    seqFrom: record.seqFrom,
    seqTo: record.seqTo,
    serverTime: record.serverTime,
  };
}

/** Writes the sidecar of a segment that just became full. */
export async function writeSidecar(
  directory: string,
  k: number,
  records: readonly StoredRecord[],
): Promise<void> {
  const entries: SidecarEntry[] = records.map((r) => [
    r.packet.id,
    r.packet.from,
    r.packet.to,
    r.seqFrom,
    r.seqTo,
    r.serverTime,
  ]);
  const db = new Low(new FsyncJsonFile(sidecarPath(directory, k), sidecarSchema), {
    v: 1 as const,
    segment: k,
    entries: [] as unknown[],
  });
  db.data = { v: 1, segment: k, entries };
  await db.write();
}

function isEntry(value: unknown): value is SidecarEntry {
  if (!Array.isArray(value) || value.length !== 6) return false;
  const [id, from, to, seqFrom, seqTo, time] = value as unknown[];
  return (
    typeof id === 'string' &&
    ID.test(id) &&
    typeof from === 'string' &&
    IDENTIFIER.test(from) &&
    typeof to === 'string' &&
    IDENTIFIER.test(to) &&
    Number.isSafeInteger(seqFrom) &&
    Number.isSafeInteger(seqTo) &&
    Number.isSafeInteger(time)
  );
}

/** Reads a full segment's sidecar, or null when it is absent (a crash before it was written). */
export async function readSidecar(
  directory: string,
  k: number,
  expected: number,
): Promise<IndexEntry[] | null> {
  const path = sidecarPath(directory, k);
  const data = await new FsyncJsonFile(path, sidecarSchema).read();
  if (data === null) return null;
  if (data.segment !== k || data.entries.length !== expected) {
    throw new StoreCorruptError(path, 'the sidecar does not describe a full segment');
  }
  return data.entries.map((value) => {
    if (!isEntry(value)) throw new StoreCorruptError(path, 'an entry is malformed');
    const [id, from, to, seqFrom, seqTo, serverTime] = value;
    return { id, from, to, seqFrom, seqTo, serverTime };
  });
}

/** The journal of the open segment: its records as JSON lines, appended and fdatasynced per commit. */
export function journalPath(directory: string, k: number): string {
  return join(directory, `${String(k).padStart(8, '0')}.journal`);
}

/** The journal numbers present. */
export async function listJournals(directory: string): Promise<number[]> {
  return (await readdir(directory))
    .map((name) => /^(\d{8})\.journal$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Reads a journal's complete, valid lines. A crash can leave a torn tail (a line without its
 * newline, or bytes that do not parse): that batch was never acknowledged, so the tail is cut off.
 */
export async function readJournal(
  directory: string,
  k: number,
  segmentSize: number,
): Promise<StoredRecord[]> {
  const path = journalPath(directory, k);
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  });
  const lines = text.split('\n');
  const complete = lines.slice(0, -1);
  const records: StoredRecord[] = [];
  for (const line of complete) {
    const parsed = recordSchema.safeParse(safeJson(line));
    if (!parsed.success || parsed.data.pos !== k * segmentSize + records.length) break;
    records.push(parsed.data);
  }
  if (records.length < complete.length) {
    const later = complete
      .slice(records.length + 1)
      .some((line) => recordSchema.safeParse(safeJson(line)).success);
    if (later)
      throw new StoreCorruptError(
        path,
        `line ${records.length + 1} is damaged but later lines are not`,
      );
  }
  const validBytes = Buffer.byteLength(
    complete
      .slice(0, records.length)
      .map((line) => `${line}\n`)
      .join(''),
    'utf8',
  );
  if (validBytes < Buffer.byteLength(text, 'utf8')) await truncate(path, validBytes);
  return records;
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** An open journal: appends lines and makes them durable with one fdatasync per commit. */
export class Journal {
  private constructor(
    readonly k: number,
    private readonly handle: FileHandle,
    private size: number,
  ) {}

  /** Opens (creating, durably, if needed) the journal of segment k for appending. */
  static async open(directory: string, k: number): Promise<Journal> {
    const handle = await open(journalPath(directory, k), 'a', 0o600);
    try {
      const { size } = await handle.stat();
      const directoryHandle = await open(directory, 'r');
      try {
        await directoryHandle.sync();
      } finally {
        await directoryHandle.close();
      }
      return new Journal(k, handle, size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Appends serialized records, one per line, and returns once they are on disk. On failure the
   * file is cut back to what was durable before, so a later append never follows a torn line.
   */
  async append(lines: readonly string[]): Promise<void> {
    const data = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    try {
      await this.handle.write(data);
      await this.handle.datasync();
      this.size += data.byteLength;
    } catch (error) {
      await this.handle.truncate(this.size).catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
