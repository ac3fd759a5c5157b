// This device's history: the messages it verified and opened, in an encrypted SQLite file.

import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { HISTORY_KEY_BYTES } from '../../core/index.js';
import { HistoryCorruptError, HistoryLockedError, isDamage } from './history-errors.js';
import { ftsQuery } from './search-query.js';
import { HISTORY_FILE, makeHistoryPrivate, type ModeFixed } from './history-files.js';
import { migrateHistory } from './history-schema.js';
import { message, type HistoryMessage } from './history-message.js';
import {
  changeRowOf,
  changeState,
  GROUP_RECIPIENT_PREFIX,
  MESSAGE_COLUMNS,
  settleChange,
  settleChangesOf,
  type ChangeState,
  type MessageRow,
} from './history-changes.js';

export { HISTORY_FILE } from './history-files.js';

/** Most messages one profile keeps: past it, new ones are not added (a flood cannot fill the disk). */
export const MAX_HISTORY_MESSAGES = 1_000_000;
/** Most bytes the history file may take (SQLite pages): past it, new messages are not added. */
export const MAX_HISTORY_BYTES = 1024 * 1024 * 1024;
/** Most messages kept from one peer I never wrote to nor accepted: past it, its oldest go first. */
export const MAX_STRANGER_MESSAGES = 1_000;
/** Most bytes of text kept from one such peer (so 1,000 peers, the profile's cap, fill 256 MiB at most). */
export const MAX_STRANGER_BYTES = 256 * 1024;
/** The byte bounds of a history (the defaults above; tests give smaller ones). */
export interface HistoryBounds {
  readonly maxBytes: number;
  readonly strangerMessages: number;
  readonly strangerBytes: number;
}

const DEFAULT_BOUNDS: HistoryBounds = {
  maxBytes: MAX_HISTORY_BYTES,
  strangerMessages: MAX_STRANGER_MESSAGES,
  strangerBytes: MAX_STRANGER_BYTES,
};

/** Most results one search returns. */
export const MAX_SEARCH_RESULTS = 200;
/** How long a write waits for another process's write to finish. */
const BUSY_TIMEOUT_MS = 5_000;

type Row = MessageRow;

const COLUMNS = MESSAGE_COLUMNS;

export type { HistoryMessage } from './history-message.js';

/** The conversation of a message: its group (`group:<id>`), else the other side, or me for a note to myself. */
function peerOf(line: HistoryMessage): string {
  if (line.to.startsWith(GROUP_RECIPIENT_PREFIX)) return line.to;
  return line.direction === 'outgoing' ? line.to : line.from;
}

/**
 * The encrypted history of one profile. The whole file, pages and write-ahead log alike, is
 * encrypted with ChaCha20-Poly1305 (SQLite3 Multiple Ciphers) under a raw 32-byte key: no page
 * is readable without it and a changed page fails its tag. Temporary tables stay in memory, so
 * no plaintext spills to a temp file. Several processes may write at once (SQLite's own locks).
 */
export class HistoryStore {
  private count: number;
  private bounds: HistoryBounds = DEFAULT_BOUNDS;
  /** The history files this open found readable by others and made 0600 (for the caller to say). */
  modesFixed: readonly ModeFixed[] = [];

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    private readonly maxMessages: number,
  ) {
    // Kept by a trigger: counting the rows would read (and decrypt) the whole index at each open.
    this.count = this.guard(
      () => (db.prepare('SELECT messages AS n FROM counts').get() as { n: number }).n,
    );
  }

  /** Opens (or creates, mode 0600) the history in `home` (`file`: a history kept aside) under `key`; a wrong key is HISTORY_LOCKED. */
  static open(
    home: string,
    key: Uint8Array,
    maxMessages = MAX_HISTORY_MESSAGES,
    file = HISTORY_FILE,
    bounds: Partial<HistoryBounds> = {},
  ): HistoryStore {
    if (key.length !== HISTORY_KEY_BYTES) throw new TypeError('The history key is 32 bytes.');
    const path = join(home, file);
    // Created here, 0600, before SQLite opens it: its -wal and -shm files take the same mode.
    closeSync(openSync(path, 'a', 0o600));
    // An existing file keeps its mode at open: one readable by others is made private first.
    const modesFixed = makeHistoryPrivate(home);
    const db = new Database(path);
    try {
      db.pragma(`cipher = 'chacha20'`);
      db.pragma(`key = "x'${Buffer.from(key).toString('hex')}'"`);
      try {
        db.prepare('SELECT count(*) FROM sqlite_master').get();
      } catch (error) {
        if (!isDamage(error)) throw error;
        throw new HistoryLockedError(
          `The local history ${path} does not open with this profile's key: it was made under another login on this device, or its start is damaged. Nothing was changed: move it away to start a new one.`,
        );
      }
      db.pragma('temp_store = MEMORY');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // 16 MiB of decrypted pages: a long conversation is read without decrypting a page twice.
      db.pragma('cache_size = -16384');
      migrateHistory(db, path);
      // Counted once, when the table is new (counting at each open reads the whole index).
      if (db.prepare('SELECT 1 FROM counts').get() === undefined)
        db.prepare(
          'INSERT OR IGNORE INTO counts VALUES (1, (SELECT count(*) FROM messages))',
        ).run();
      const store = new HistoryStore(db, path, maxMessages);
      store.bounds = { ...DEFAULT_BOUNDS, ...bounds };
      store.modesFixed = modesFixed;
      return store;
    } catch (error) {
      db.close();
      if (error instanceof HistoryLockedError || !isDamage(error)) throw error;
      throw corrupt(path);
    }
  }

  /** Runs a read or write, turning a damaged page into HISTORY_CORRUPT. */
  private guard<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (isDamage(error)) throw corrupt(this.path);
      throw error;
    }
  }

  /** How many messages the history holds (as this process counted them). */
  get size(): number {
    return this.count;
  }

  /**
   * Adds verified messages, each once: a packet id already held from that sender, or a place in
   * the stream already taken, leaves the one held; but a packet a page verified (`stream`) takes
   * the place of a sent message that only the relay's acknowledgement (`ack`) put there. Returns
   * how many were added; false when the history is full (MAX_HISTORY_MESSAGES, or the bound it
   * was opened with) and the rest were not kept.
   */
  add(
    lines: readonly HistoryMessage[],
    placedBy: 'stream' | 'ack' = 'stream',
    known: (peer: string) => boolean = () => false,
  ): { added: number; full: boolean } {
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO messages (seq, peer, sender, recipient, id, time, outgoing, text, reply_to)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertChange = this.db.prepare(
      `INSERT OR IGNORE INTO changes (seq, peer, sender, recipient, id, time, kind, target, text)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.guard(() =>
      this.db.transaction(() => {
        let added = 0;
        if (this.fileBytes() >= this.bounds.maxBytes) return { added, full: true };
        const strangers = new Map<string, boolean>();
        for (const line of lines) {
          if (this.count >= this.maxMessages) {
            // Counted again in the transaction: other processes may have added meanwhile.
            this.count = (
              this.db.prepare('SELECT messages AS n FROM counts').get() as { n: number }
            ).n;
            if (this.count >= this.maxMessages) return { added, full: true };
          }
          const target = line.edits ?? line.deletes;
          const common = [line.seq, peerOf(line), line.from, line.to, line.id, line.time] as const;
          if (target !== undefined) {
            // An edit or delete: kept once, then applied to its target by the core rules.
            const { changes } = insertChange.run(
              ...common,
              line.edits === undefined ? 'delete' : 'edit',
              target,
              line.text,
            );
            if (changes > 0) {
              settleChange(this.db, changeRowOf(line, target));
              settleChangesOf(this.db, line.id);
            }
            added += changes;
            this.count += changes;
            continue;
          }
          if (line.direction === 'incoming' && line.from !== line.to) {
            // A group's messages are bounded as one conversation: a group I never wrote in, nor
            // made, nor was added to by a peer I accepted, is a stranger like a peer.
            const conversation = peerOf(line);
            let stranger = strangers.get(conversation);
            if (stranger === undefined) {
              stranger = !known(conversation) && !this.wroteTo(conversation);
              strangers.set(conversation, stranger);
            }
            if (stranger) this.makeRoom(line, conversation);
          }
          const row = [
            ...common,
            line.direction === 'outgoing' ? 1 : 0,
            line.text,
            line.replyTo ?? null,
          ];
          let { changes } = insert.run(...row);
          if (changes === 0 && placedBy === 'stream' && this.replacesClaim(line)) {
            this.count -= 1;
            ({ changes } = insert.run(...row));
          }
          // Changes that came before their target (or that a moved row lost) apply now.
          if (changes > 0) settleChangesOf(this.db, line.id);
          if (changes > 0 && placedBy === 'ack')
            this.db.prepare('INSERT OR IGNORE INTO ack_places VALUES (?)').run(line.seq);
          added += changes;
          this.count += changes;
        }
        return { added, full: false };
      })(),
    );
  }

  /**
   * Whether a verified packet of a page freed the row that kept it out: a sent message at its place
   * (another packet: an honest stream never holds two at one place), or, for a packet I sent, its
   * own row at another place while this one is free. Such a row's place came from the relay's
   * acknowledgement alone, so it gives way to what the stream shows.
   */
  private replacesClaim(line: HistoryMessage): boolean {
    const held = this.at(line.seq);
    const elsewhere = this.db
      .prepare(`SELECT ${COLUMNS} FROM messages WHERE sender = ? AND id = ?`)
      .get(line.from, line.id) as Row | undefined;
    if (held !== undefined) {
      if (held.from === line.from && held.id === line.id) {
        // The page shows it where the ack put it: that place is the stream's now.
        this.db.prepare('DELETE FROM ack_places WHERE seq = ?').run(held.seq);
        return false;
      }
      // Only a place an ack alone gave yields: a page's place is never taken by another page.
      if (held.direction !== 'outgoing' || !this.ackPlaced(held.seq)) return false;
      // The packet is held at another place already (a relay replaying it here): the insert would
      // be ignored, so the sent message stays.
      if (elsewhere !== undefined) return false;
      this.remove(held);
      return true;
    }
    if (line.direction !== 'outgoing') return false;
    if (elsewhere === undefined || elsewhere.outgoing !== 1 || !this.ackPlaced(elsewhere.seq))
      return false;
    this.remove(message(elsewhere));
    return true;
  }

  /** The bytes the database takes now (its pages, as this connection sees them). */
  private fileBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return pages * size;
  }

  /** Whether I ever wrote to this peer (a message of mine to them is held). */
  private wroteTo(peer: string): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM messages WHERE peer = ? AND outgoing = 1 LIMIT 1')
        .get(peer) !== undefined
    );
  }

  /**
   * Before a message of a stranger (a peer or group I never wrote to nor accepted) is added: the
   * conversation's oldest messages go until it holds fewer than the stranger bounds, never another's.
   */
  private makeRoom(line: HistoryMessage, conversation: string): void {
    const incoming = Buffer.byteLength(line.text);
    for (let i = 0; i <= this.bounds.strangerMessages; i++) {
      const { n, bytes } = this.db
        .prepare(
          'SELECT count(*) AS n, coalesce(sum(length(CAST(text AS BLOB))), 0) AS bytes FROM messages WHERE peer = ?',
        )
        .get(conversation) as { n: number; bytes: number };
      if (n < this.bounds.strangerMessages && bytes + incoming <= this.bounds.strangerBytes) return;
      const oldest = this.db
        .prepare(`SELECT ${COLUMNS} FROM messages WHERE peer = ? ORDER BY seq ASC LIMIT 1`)
        .get(conversation) as Row | undefined;
      if (oldest === undefined) return;
      this.remove(message(oldest));
      this.count -= 1;
    }
  }

  /** Deletes one row, its words and its count (the insert that follows counts again). */
  private remove(held: HistoryMessage): void {
    // A deleted message's text is no longer in the index.
    if (held.deleted !== true)
      this.db
        .prepare(`INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', ?, ?)`)
        .run(held.seq, held.text);
    this.db.prepare('DELETE FROM messages WHERE seq = ?').run(held.seq);
    this.db.prepare('DELETE FROM ack_places WHERE seq = ?').run(held.seq);
    this.db.prepare('UPDATE counts SET messages = messages - 1').run();
  }

  /** The sender's time of the newest message from `sender` kept here (not one of mine), if any. */
  newestFrom(sender: string): number | undefined {
    const row = this.guard(
      () =>
        this.db
          .prepare('SELECT max(time) AS time FROM messages WHERE peer = ? AND outgoing = 0')
          .get(sender) as { time: number | null },
    );
    return row.time ?? undefined;
  }

  /** Up to `count` messages of every conversation after `seq`, in stream order (to copy a history). */
  everything(seq: number, count: number): HistoryMessage[] {
    const rows = this.guard(
      () =>
        this.db
          .prepare(`SELECT ${COLUMNS} FROM messages WHERE seq > ? ORDER BY seq ASC LIMIT ?`)
          .all(seq, count) as Row[],
    );
    return rows.map(message);
  }

  /** Whether the row at `seq` holds its place by the relay's acknowledgement alone. */
  private ackPlaced(seq: number): boolean {
    return this.db.prepare('SELECT 1 FROM ack_places WHERE seq = ?').get(seq) !== undefined;
  }

  /** The message held at this place of my stream, if any. */
  at(seq: number): HistoryMessage | undefined {
    const row = this.guard(
      () =>
        this.db.prepare(`SELECT ${COLUMNS} FROM messages WHERE seq = ?`).get(seq) as
          Row | undefined,
    );
    return row === undefined ? undefined : message(row);
  }

  /** The last `limit` messages with `peer` before `before` (a seq), oldest first, and whether older ones exist. */
  page(
    peer: string,
    limit: number,
    before = Number.MAX_SAFE_INTEGER,
  ): { messages: HistoryMessage[]; more: boolean } {
    const rows = this.guard(
      () =>
        this.db
          .prepare(
            `SELECT ${COLUMNS} FROM messages WHERE peer = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
          )
          .all(peer, before, limit + 1) as Row[],
    );
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(message), more };
  }

  /** The message with this packet id in the conversation with `peer` (the newest if two senders share it). */
  find(peer: string, id: string): HistoryMessage | undefined {
    const row = this.guard(
      () =>
        this.db
          .prepare(
            `SELECT ${COLUMNS} FROM messages WHERE peer = ? AND id = ? ORDER BY seq DESC LIMIT 1`,
          )
          .get(peer, id) as Row | undefined,
    );
    return row === undefined ? undefined : message(row);
  }

  /** Up to `count` messages with `peer` after `seq`, oldest first. */
  after(peer: string, seq: number, count: number): HistoryMessage[] {
    const rows = this.guard(
      () =>
        this.db
          .prepare(
            `SELECT ${COLUMNS} FROM messages WHERE peer = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
          )
          .all(peer, seq, count) as Row[],
    );
    return rows.map(message);
  }

  /**
   * Messages holding every word of `words` (whole words, any case, accents ignored), newest
   * first, at most `limit`; only the conversation with `peer` if given. The words are quoted
   * (ftsQuery), so nothing typed is read as FTS5 syntax.
   */
  search(
    words: string,
    options: { peer?: string; limit?: number } = {},
  ): (HistoryMessage & { peer: string })[] {
    const match = ftsQuery(words);
    const limit = Math.min(options.limit ?? 50, MAX_SEARCH_RESULTS);
    const rows = this.guard(() =>
      options.peer === undefined
        ? (this.db
            .prepare(
              `SELECT ${COLUMNS.replaceAll(/(\w+)/g, 'm.$1')}, m.peer FROM messages_fts f
               JOIN messages m ON m.seq = f.rowid
               WHERE messages_fts MATCH ? ORDER BY f.rowid DESC LIMIT ?`,
            )
            .all(match, limit) as (Row & { peer: string })[])
        : (this.db
            .prepare(
              `SELECT ${COLUMNS.replaceAll(/(\w+)/g, 'm.$1')}, m.peer FROM messages_fts f
               JOIN messages m ON m.seq = f.rowid
               WHERE messages_fts MATCH ? AND m.peer = ? ORDER BY f.rowid DESC LIMIT ?`,
            )
            .all(match, options.peer, limit) as (Row & { peer: string })[]),
    );
    return rows.map((row) => ({ ...message(row), peer: row.peer }));
  }

  /** What became of the edit or delete `id` from `sender`: applied, pending, or its refusal code. */
  changeState(sender: string, id: string): ChangeState | undefined {
    return this.guard(() => changeState(this.db, sender, id));
  }

  /** Closes the file (the write-ahead log is folded back in by the last process to close). */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

function corrupt(path: string): HistoryCorruptError {
  return new HistoryCorruptError(
    `The local history ${path} is damaged (a page fails its check). Nothing was changed: move it away to start a new one; the relay still holds every message.`,
  );
}
