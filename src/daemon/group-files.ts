import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MetaChatError,
  parseGroupEntry,
  RelayError,
  replayGroupEntry,
  type GroupEntry,
  type GroupEntryPage,
  type GroupHead,
  type GroupKeyBinding,
  type GroupStore,
} from '../core/index.js';
import { ensureDirectory, fsyncDirectory } from './atomic-file.js';
import { FreeSpace } from './free-space.js';
import { StoreCorruptError } from './store-corrupt-error.js';

/** One group's log as loaded: where each entry's line lies in its file, and the state it leads to. */
interface LoadedGroup {
  head: GroupHead | undefined;
  /** Byte range of each entry's line (without its newline), by index. */
  readonly spans: { start: number; end: number }[];
  /** Bytes of the file that are durable. */
  size: number;
  readonly seen: Set<string>;
  /** Each membership: who, with which logged key, from which entry, until which (absent: still). */
  readonly spells: Spell[];
}

/** One stretch of membership, from the entry that brought a member in to the one it left by. */
export interface Spell {
  readonly member: string;
  readonly fingerprint: string;
  readonly from: number;
  to?: number;
}

/** Opens a spell for each newcomer and closes the spell of each member who left, at `index`. */
function trackSpells(
  spells: Spell[],
  before: GroupHead | undefined,
  after: GroupHead,
  index: number,
): void {
  const was = new Set(before?.members ?? []);
  const is = new Set(after.members);
  for (const spell of spells) {
    if (spell.to === undefined && !is.has(spell.member)) spell.to = index;
  }
  after.members.forEach((member, i) => {
    if (!was.has(member))
      spells.push({ member, fingerprint: after.fingerprints[i] ?? '', from: index });
  });
}

/** The members and their logged keys after entry `index`, from the spells. */
function membersFromSpells(spells: readonly Spell[], index: number): GroupKeyBinding {
  const now = spells
    .filter((s) => s.from <= index && (s.to === undefined || s.to > index))
    .sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
  return { members: now.map((s) => s.member), fingerprints: now.map((s) => s.fingerprint) };
}

/**
 * The relay's group logs on files: `groups/<group id>.jsonl`, one entry a line, each append one
 * write and one fdatasync. A group is read once, on its first use (its lines replayed through the
 * membership rules, not the signatures: the relay verified them before it wrote them); a line a
 * crash cut short was never acknowledged and is cut off.
 */
export class FileGroupStore implements GroupStore {
  private readonly loaded = new Map<string, Promise<LoadedGroup>>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly space: FreeSpace;
  private closed = false;

  private constructor(
    private readonly directory: string,
    private readonly minFreeBytes: number,
  ) {
    this.space = new FreeSpace(directory);
  }

  /** Opens (creating) the groups directory of a data directory. */
  static async open(dataDir: string, minFreeBytes: number): Promise<FileGroupStore> {
    const directory = join(dataDir, 'groups');
    await ensureDirectory(directory);
    return new FileGroupStore(directory, minFreeBytes);
  }

  private pathOf(group: string): string {
    return join(this.directory, `${group}.jsonl`);
  }

  private load(group: string): Promise<LoadedGroup> {
    let loading = this.loaded.get(group);
    if (loading === undefined) {
      loading = this.read(group);
      this.loaded.set(group, loading);
      loading.catch(() => this.loaded.delete(group));
    }
    return loading;
  }

  private async read(group: string): Promise<LoadedGroup> {
    const path = this.pathOf(group);
    const bytes = await readOrEmpty(path);
    const loaded = parseGroupFile(path, bytes, group);
    if (loaded.size < bytes.length) {
      const handle = await open(path, 'r+');
      try {
        await handle.truncate(loaded.size);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }
    return loaded;
  }

  async head(group: string): Promise<GroupHead | undefined> {
    return (await this.load(group)).head;
  }

  async wasMember(group: string, identifier: string): Promise<boolean> {
    return (await this.load(group)).seen.has(identifier);
  }

  /**
   * Scans the group files in id order from `after`, loading each (once per daemon), for groups
   * whose head lists the identifier: the file store serves small relays; PostgreSQL has an index.
   */
  async groupsOf(
    identifier: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ groups: string[]; more: boolean }> {
    const ids = (await readdir(this.directory))
      .filter((name) => /^[0-9a-f]{64}\.jsonl$/.test(name))
      .map((name) => name.slice(0, 64))
      .filter((id) => after === undefined || id > after)
      .sort();
    const groups: string[] = [];
    for (const id of ids) {
      if ((await this.load(id)).head?.members.includes(identifier) !== true) continue;
      if (groups.length === limit) return { groups, more: true };
      groups.push(id);
    }
    return { groups, more: false };
  }

  async membersAt(group: string, index: number): Promise<GroupKeyBinding | undefined> {
    const loaded = await this.load(group);
    if (loaded.head === undefined || index > loaded.head.index) return undefined;
    return membersFromSpells(loaded.spells, index);
  }

  /** Appends after the head at `previousIndex`, one group at a time; false if the head moved. */
  append(entry: GroupEntry, head: GroupHead, previousIndex: number | undefined): Promise<boolean> {
    if (this.closed) {
      return Promise.reject(
        new RelayError('STORE_FAILED', 'The relay is shutting down; send again shortly.'),
      );
    }
    const previous = this.queues.get(entry.group) ?? Promise.resolve();
    const task = previous.then(() => this.write(entry, head, previousIndex));
    const settled = task.catch(() => undefined);
    this.queues.set(entry.group, settled);
    void settled.then(() => {
      if (this.queues.get(entry.group) === settled) this.queues.delete(entry.group);
    });
    return task;
  }

  private async write(
    entry: GroupEntry,
    head: GroupHead,
    previousIndex: number | undefined,
  ): Promise<boolean> {
    const loaded = await this.load(entry.group);
    if (loaded.head?.index !== previousIndex) return false;
    const line = Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8');
    if ((await this.space.available()) - this.minFreeBytes < line.length) {
      throw new RelayError(
        'STORAGE_FULL',
        'The relay is almost out of disk space and refuses new group changes; try again later, or tell its operator.',
      );
    }
    const path = this.pathOf(entry.group);
    try {
      const handle = await open(path, 'a', 0o600);
      try {
        let written = 0;
        while (written < line.length) {
          const { bytesWritten } = await handle.write(line, written, line.length - written);
          if (bytesWritten <= 0) throw new Error('the group log write made no progress');
          written += bytesWritten;
        }
        await handle.datasync();
      } finally {
        await handle.close();
      }
      if (loaded.size === 0) await fsyncDirectory(this.directory);
    } catch (cause) {
      // What reached the file may be a part of the line: the next load cuts it off.
      this.loaded.delete(entry.group);
      throw new RelayError(
        'STORE_FAILED',
        'The relay could not store the group change; send it again.',
        {
          cause,
        },
      );
    }
    this.space.wrote(line.length);
    loaded.spans.push({ start: loaded.size, end: loaded.size + line.length - 1 });
    loaded.size += line.length;
    trackSpells(loaded.spells, loaded.head, head, entry.index);
    loaded.head = head;
    for (const member of head.members) loaded.seen.add(member);
    return true;
  }

  async entries(
    group: string,
    from: number,
    limit: number,
    maxBytes: number,
  ): Promise<GroupEntryPage> {
    const loaded = await this.load(group);
    const wanted = loaded.spans.slice(from, from + limit);
    let count = 0;
    let bytes = 0;
    for (const span of wanted) {
      bytes += span.end - span.start;
      if (bytes > maxBytes && count > 0) break;
      count++;
    }
    const spans = wanted.slice(0, count);
    const first = spans[0];
    const last = spans.at(-1);
    if (first === undefined || last === undefined) return { entries: [], more: false };
    const path = this.pathOf(group);
    const handle = await open(path, 'r');
    const buffer = Buffer.alloc(last.end - first.start);
    try {
      await handle.read(buffer, 0, buffer.length, first.start);
    } finally {
      await handle.close();
    }
    const entries = spans.map((span, i) =>
      parsedLine(
        path,
        buffer.toString('utf8', span.start - first.start, span.end - first.start),
        from + i,
      ),
    );
    return { entries, more: from + count < loaded.spans.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.queues.size > 0) await Promise.allSettled([...this.queues.values()]);
  }
}

async function readOrEmpty(path: string): Promise<Buffer> {
  return readFile(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  });
}

/** A group file's durable lines (a last line without its newline was never acknowledged), replayed. */
function parseGroupFile(path: string, bytes: Buffer, group: string): LoadedGroup {
  const durable = bytes.lastIndexOf(0x0a) + 1;
  const loaded: LoadedGroup = {
    head: undefined,
    spans: [],
    size: durable,
    seen: new Set(),
    spells: [],
  };
  let start = 0;
  while (start < durable) {
    const end = bytes.indexOf(0x0a, start);
    const entry = parsedLine(path, bytes.toString('utf8', start, end), loaded.spans.length);
    if (entry.group !== group)
      throw new StoreCorruptError(path, 'it holds an entry of another group');
    advance(path, loaded, entry);
    loaded.spans.push({ start, end });
    start = end + 1;
  }
  return loaded;
}

/** One group log of a stopped relay's data directory, read without writing (for import-lowdb). */
export interface GroupFile {
  readonly group: string;
  readonly entries: readonly GroupEntry[];
  readonly head: GroupHead;
  /** Everyone who was ever a member, ascending. */
  readonly seen: readonly string[];
  /** Every stretch of membership, in the order the log made them. */
  readonly spells: readonly Spell[];
}

/** Every group log of a data directory, by group id, checked as the relay checks them at start. */
export async function* readGroupFiles(dataDir: string): AsyncGenerator<GroupFile> {
  const directory = join(dataDir, 'groups');
  const names = await readdir(directory).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
    throw error;
  });
  for (const name of names.filter((n) => /^[0-9a-f]{64}\.jsonl$/.test(n)).sort()) {
    const path = join(directory, name);
    const bytes = await readFile(path);
    const loaded = parseGroupFile(path, bytes, name.slice(0, 64));
    if (loaded.head === undefined) continue;
    yield {
      group: name.slice(0, 64),
      entries: loaded.spans.map((span, i) =>
        parsedLine(path, bytes.toString('utf8', span.start, span.end), i),
      ),
      head: loaded.head,
      seen: [...loaded.seen].sort(),
      spells: loaded.spells,
    };
  }
}

function parsedLine(path: string, line: string, index: number): GroupEntry {
  try {
    const entry = parseGroupEntry(JSON.parse(line));
    if (entry.index !== index) throw new Error('out of place');
    return entry;
  } catch (cause) {
    throw new StoreCorruptError(
      path,
      `group log entry ${String(index)} is not a valid entry in its place`,
      {
        cause,
      },
    );
  }
}

function advance(path: string, loaded: LoadedGroup, entry: GroupEntry): void {
  try {
    const before = loaded.head;
    loaded.head = replayGroupEntry(before ?? null, entry);
    trackSpells(loaded.spells, before, loaded.head, entry.index);
  } catch (cause) {
    if (!(cause instanceof MetaChatError)) throw cause;
    throw new StoreCorruptError(path, `group log entry ${String(entry.index)} breaks the log`, {
      cause,
    });
  }
  for (const member of loaded.head.members) loaded.seen.add(member);
}
