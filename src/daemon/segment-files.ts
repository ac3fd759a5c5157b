import { createHash } from 'node:crypto';
import { open, readdir, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { z } from 'zod';
import {
  groupPacketSchema,
  identifierSchema,
  isStoredGroupRecord,
  MAX_GROUP_MEMBERS,
  packetSchema,
  type StoredStreamRecord,
} from '../core/index.js';
import { writeFileAtomic } from './atomic-file.js';
import { FsyncJsonFile } from './fsync-json-file.js';
import type { IndexEntry } from './message-index.js';
import { StoreCorruptError } from './store-corrupt-error.js';

const ID = /^[0-9a-f]{32}$/;
const IDENTIFIER = /^[0-9a-f]{64}$/;
const SEGMENT_NAME = /^(\d{8})\.json$/;

/** A packet's record as it lies in a segment or a journal. */
export const packetRecordSchema = z.strictObject({
  pos: z.number().int().min(0),
  serverTime: z.number().int().min(0),
  seqFrom: z.number().int().min(1),
  seqTo: z.number().int().min(1),
  packet: packetSchema,
});

/** A group message's record: one copy, and each member's place (members ascending, one seq each). */
export const groupRecordSchema = z
  .strictObject({
    pos: z.number().int().min(0),
    serverTime: z.number().int().min(0),
    kind: z.literal('group'),
    members: z.array(identifierSchema).min(1).max(MAX_GROUP_MEMBERS),
    seqs: z.array(z.number().int().min(1)).min(1).max(MAX_GROUP_MEMBERS),
    packet: groupPacketSchema,
  })
  .refine(
    (r) =>
      r.seqs.length === r.members.length &&
      r.members.every((m, i) => i === 0 || (r.members[i - 1] ?? '') < m) &&
      r.members.includes(r.packet.from),
    'a group record needs one seq per member, members ascending, the sender among them',
  );

/** One stored record as it lies in a segment or a journal: a packet's or a group message's. */
export const recordSchema = z.union([packetRecordSchema, groupRecordSchema]);

/** A segment: up to `segmentSize` consecutive records of the log, one lowdb file. */
export const segmentSchema = z.strictObject({
  v: z.literal(1),
  segment: z.number().int().min(0),
  records: z.array(recordSchema),
});

/**
 * A tuple per record: [id, from, to, seqFrom, seqTo, serverTime]; a group message's adds its
 * members and their seqs: [id, from, group, seq, seq, serverTime, members, seqs].
 */
type SidecarEntry =
  | [string, string, string, number, number, number]
  | [string, string, string, number, number, number, string[], number[]];

/** The sidecar of a full segment: its index entries without bodies, read at start instead of the segment. */
const sidecarSchema = z.strictObject({
  v: z.literal(1),
  segment: z.number().int().min(0),
  entries: z.array(z.unknown()),
  /** Byte offset of each record in the segment file, and one past the last: absent in old sidecars. */
  offsets: z.array(z.number().int().min(0)).optional(),
});

/** What a sidecar says of its segment: the index entries, and where each record lies in the file. */
export interface Sidecar {
  readonly entries: IndexEntry[];
  /** Record i is bytes [offsets[i], offsets[i + 1] - 1) of the segment file; null when unknown. */
  readonly offsets: readonly number[] | null;
}

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
export async function readSegment(directory: string, k: number): Promise<StoredStreamRecord[]> {
  const path = segmentPath(directory, k);
  const data = await new FsyncJsonFile(path, segmentSchema).read();
  if (data?.segment !== k)
    throw new StoreCorruptError(path, 'the segment is missing or misnumbered');
  return data.records;
}

/**
 * Writes one segment durably (atomic replace, fsync). Takes each record already serialized: the
 * file is the same JSON lowdb reads back, built by joining instead of re-serializing every record.
 * Returns where each record lies in the file (see Sidecar), so one record can be read alone.
 */
export async function writeSegment(
  directory: string,
  k: number,
  recordJson: readonly string[],
): Promise<number[]> {
  const head = `{"v":1,"segment":${k},"records":[`;
  const offsets = [Buffer.byteLength(head)];
  for (const json of recordJson) {
    offsets.push((offsets.at(-1) ?? 0) + Buffer.byteLength(json) + 1);
  }
  await writeFileAtomic(segmentPath(directory, k), `${head}${recordJson.join(',')}]}`);
  return offsets;
}

/** The index entry of a stored record. */
export function entryOf(record: StoredStreamRecord): IndexEntry {
  if (isStoredGroupRecord(record)) {
    const { packet, members, seqs } = record;
    const seq = seqs[members.indexOf(packet.from)] ?? 0;
    return {
      id: packet.id,
      from: packet.from,
      to: packet.group,
      seqFrom: seq,
      seqTo: seq,
      serverTime: record.serverTime,
      members,
      seqs,
    };
  }
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

/** Writes the sidecar of a segment that just became full, with its records' offsets if known. */
export async function writeSidecar(
  directory: string,
  k: number,
  records: readonly StoredStreamRecord[],
  offsets?: readonly number[],
): Promise<void> {
  const entries: SidecarEntry[] = records.map((record) => {
    const e = entryOf(record);
    const base: [string, string, string, number, number, number] = [
      e.id,
      e.from,
      e.to,
      e.seqFrom,
      e.seqTo,
      e.serverTime,
    ];
    return e.members === undefined || e.seqs === undefined
      ? base
      : [...base, [...e.members], [...e.seqs]];
  });
  const db = new Low(new FsyncJsonFile(sidecarPath(directory, k), sidecarSchema), {
    v: 1 as const,
    segment: k,
    entries: [] as unknown[],
  });
  db.data = { v: 1, segment: k, entries, ...(offsets ? { offsets: [...offsets] } : {}) };
  await db.write();
}

function isEntry(value: unknown): value is SidecarEntry {
  if (!Array.isArray(value) || (value.length !== 6 && value.length !== 8)) return false;
  const [id, from, to, seqFrom, seqTo, time, members, seqs] = value as unknown[];
  if (
    value.length === 8 &&
    !(
      Array.isArray(members) &&
      Array.isArray(seqs) &&
      members.length === seqs.length &&
      members.length <= MAX_GROUP_MEMBERS &&
      members.every((m) => typeof m === 'string' && IDENTIFIER.test(m)) &&
      seqs.every((n) => Number.isSafeInteger(n) && (n as number) >= 1)
    )
  ) {
    return false;
  }
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
): Promise<Sidecar | null> {
  const path = sidecarPath(directory, k);
  const data = await new FsyncJsonFile(path, sidecarSchema).read();
  if (data === null) return null;
  if (data.segment !== k || data.entries.length !== expected) {
    throw new StoreCorruptError(path, 'the sidecar does not describe a full segment');
  }
  const offsets = data.offsets ?? null;
  if (
    offsets !== null &&
    (offsets.length !== expected + 1 ||
      offsets.some((offset, i) => i > 0 && offset <= (offsets[i - 1] ?? 0) + 1))
  ) {
    throw new StoreCorruptError(path, 'the record offsets are malformed');
  }
  const entries = data.entries.map((value) => {
    if (!isEntry(value)) throw new StoreCorruptError(path, 'an entry is malformed');
    const [id, from, to, seqFrom, seqTo, serverTime, members, seqs] = value;
    return members === undefined || seqs === undefined
      ? { id, from, to, seqFrom, seqTo, serverTime }
      : { id, from, to, seqFrom, seqTo, serverTime, members, seqs };
  });
  return { entries, offsets };
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

const trailerSchema = z.strictObject({
  commit: z.strictObject({
    records: z.number().int().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
});

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Bytes of a trailer line: its JSON (the count at most 16 digits, the hex digest) and the newline. */
const TRAILER_MAX_BYTES = 128;

/**
 * A group commit as written: its record lines, then a trailer with their count and SHA-256. One
 * buffer, each line encoded once into it.
 */
export function commitBytes(lines: readonly string[]): Buffer {
  const body = `${lines.join('\n')}\n`;
  const out = Buffer.allocUnsafe(Buffer.byteLength(body) + TRAILER_MAX_BYTES);
  const bodyBytes = out.write(body, 0, 'utf8');
  const sha256 = sha256Hex(out.subarray(0, bodyBytes));
  const trailer = `${JSON.stringify({ commit: { records: lines.length, sha256 } })}\n`;
  return out.subarray(0, bodyBytes + out.write(trailer, bodyBytes, 'utf8'));
}

interface ParsedCommit {
  readonly records: StoredStreamRecord[];
  /** Offset just past the commit's trailer; null when the commit is incomplete or damaged. */
  readonly end: number | null;
  /** Offset just past the trailer line that was examined, to resume scanning after a bad commit. */
  readonly resume: number | null;
}

/** Parses one commit at `start`; `firstPos` null checks only count and checksum, not positions. */
function parseCommit(buffer: Buffer, start: number, firstPos: number | null): ParsedCommit {
  const lines: string[] = [];
  for (let at = start; ;) {
    const newline = buffer.indexOf(10, at);
    if (newline === -1) return { records: [], end: null, resume: null };
    const line = buffer.subarray(at, newline).toString('utf8');
    const trailer = trailerSchema.safeParse(safeJson(line));
    if (trailer.success) {
      const { records: count, sha256 } = trailer.data.commit;
      const records = lines.map((text) => recordSchema.safeParse(safeJson(text)));
      const intact =
        count === lines.length &&
        sha256 === sha256Hex(buffer.subarray(start, at)) &&
        records.every((r, i) => r.success && (firstPos === null || r.data.pos === firstPos + i));
      return {
        records: intact ? records.map((r) => r.data as StoredStreamRecord) : [],
        end: intact ? newline + 1 : null,
        resume: newline + 1,
      };
    }
    lines.push(line);
    at = newline + 1;
  }
}

/**
 * Reads a journal commit by commit, keeping each whose trailer matches its records. A crash can
 * leave the last commit torn (cut short, or with a page of zeros): it was never acknowledged, so
 * it is cut off (on disk too, unless `cut` is false, as when import-lowdb reads a source it must
 * not alter). A damaged commit followed by an intact one cannot come from a crash: the store
 * refuses to start rather than drop acknowledged packets.
 */
export async function readJournal(
  directory: string,
  k: number,
  segmentSize: number,
  cut = true,
): Promise<{ records: StoredStreamRecord[]; bytes: number }> {
  const path = journalPath(directory, k);
  const buffer = await readFile(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  });
  const records: StoredStreamRecord[] = [];
  let valid = 0;
  for (;;) {
    const commit = parseCommit(buffer, valid, k * segmentSize + records.length);
    if (commit.end === null) {
      for (let resume = commit.resume; resume !== null;) {
        const later = parseCommit(buffer, resume, null);
        if (later.end !== null) {
          throw new StoreCorruptError(path, 'a commit is damaged but a later one is intact');
        }
        resume = later.resume;
      }
      break;
    }
    records.push(...commit.records);
    valid = commit.end;
  }
  if (records.length > segmentSize)
    throw new StoreCorruptError(path, 'the journal holds more than a segment');
  if (cut && valid < buffer.byteLength) await truncate(path, valid);
  return { records, bytes: valid };
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** An open journal: appends whole commits and makes them durable with one fdatasync each. */
export class Journal {
  private constructor(
    readonly k: number,
    private readonly handle: FileHandle,
    private durable: number,
  ) {}

  /**
   * Opens (creating durably if needed) the journal of segment k, cut back to `durableBytes`: after
   * a failed append, whatever lies beyond the last durable commit is discarded.
   */
  static async open(directory: string, k: number, durableBytes: number): Promise<Journal> {
    const path = journalPath(directory, k);
    const handle = await open(path, 'a', 0o600);
    try {
      const { size } = await handle.stat();
      if (size < durableBytes)
        throw new StoreCorruptError(path, 'the journal is shorter than what was acknowledged');
      if (size > durableBytes) {
        await handle.truncate(durableBytes);
        await handle.datasync();
      }
      const directoryHandle = await open(directory, 'r');
      try {
        await directoryHandle.sync();
      } finally {
        await directoryHandle.close();
      }
      return new Journal(k, handle, durableBytes);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Bytes known to be on disk. */
  get size(): number {
    return this.durable;
  }

  /**
   * Appends one commit and returns once it is on disk. A short write (a full disk) is a failure,
   * never an acknowledgement; the caller closes this journal and reopens it cut back to `size`.
   */
  async append(lines: readonly string[]): Promise<void> {
    const data = commitBytes(lines);
    let written = 0;
    while (written < data.byteLength) {
      const { bytesWritten } = await this.handle.write(data, written, data.byteLength - written);
      if (bytesWritten <= 0) throw new Error('the journal write made no progress (disk full?)');
      written += bytesWritten;
    }
    await this.handle.datasync();
    this.durable += data.byteLength;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
