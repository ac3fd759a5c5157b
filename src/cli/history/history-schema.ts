// The local history's tables, versioned with SQLite's user_version, and the upgrade of older files.

import type Database from 'better-sqlite3-multiple-ciphers';
import { HistoryTooNewError } from './history-errors.js';

/**
 * The schema this build writes: 1 added edits, deletes and replies (files without it are 0); 2 the
 * places sent messages hold by the relay's acknowledgement alone.
 */
export const HISTORY_SCHEMA_VERSION = 2;

const TABLES = `
  CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    peer TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    id TEXT NOT NULL,
    time INTEGER NOT NULL,
    outgoing INTEGER NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (sender, id)
  );
  CREATE INDEX IF NOT EXISTS messages_by_peer ON messages (peer, seq);
  CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    text, content = 'messages', content_rowid = 'seq',
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co So'"
  );
  CREATE TABLE IF NOT EXISTS counts (one INTEGER PRIMARY KEY CHECK (one = 1), messages INTEGER NOT NULL);
  CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
    UPDATE counts SET messages = messages + 1;
  END;
`;

/** Version 1: replies, edits and deletes on each message; the changes themselves, applied or not. */
const VERSION_1 = `
  ALTER TABLE messages ADD COLUMN reply_to TEXT;
  ALTER TABLE messages ADD COLUMN edited_at INTEGER;
  ALTER TABLE messages ADD COLUMN edit_id TEXT;
  ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
  CREATE INDEX messages_by_id ON messages (id);
  CREATE TABLE changes (
    seq INTEGER PRIMARY KEY,
    peer TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    id TEXT NOT NULL,
    time INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('edit', 'delete')),
    target TEXT NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    UNIQUE (sender, id)
  );
  CREATE INDEX changes_by_target ON changes (target, state);
  CREATE INDEX changes_by_id ON changes (id);
  CREATE TRIGGER changes_count AFTER INSERT ON changes BEGIN
    UPDATE counts SET messages = messages + 1;
  END;
  CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO messages_fts (rowid, text) SELECT new.seq, new.text WHERE new.deleted_at IS NULL;
  END;
`;

/** Version 2: the places a sent message holds only by the relay's ack (no page showed it there). */
const VERSION_2 = `
  CREATE TABLE ack_places (seq INTEGER PRIMARY KEY);
`;

/**
 * Creates the tables, or upgrades an older file in one transaction (another process may be doing
 * the same: the version is read again under the write lock). A file written by a newer build is
 * refused (HISTORY_TOO_NEW) rather than changed.
 */
export function migrateHistory(db: Database.Database, path: string): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const refuseNewer = (found: number) => {
    if (found > HISTORY_SCHEMA_VERSION)
      throw new HistoryTooNewError(
        `The local history ${path} has schema ${found}, newer than this build's ${HISTORY_SCHEMA_VERSION}: update MetaChat. Nothing was changed.`,
      );
  };
  refuseNewer(version());
  if (version() === HISTORY_SCHEMA_VERSION) return;
  db.transaction(() => {
    const found = version();
    refuseNewer(found);
    if (found === HISTORY_SCHEMA_VERSION) return;
    db.exec(TABLES);
    if (found < 1) db.exec(VERSION_1);
    if (found < 2) db.exec(VERSION_2);
    db.pragma(`user_version = ${HISTORY_SCHEMA_VERSION}`);
  }).immediate();
}
