import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import {
  HISTORY_FILE,
  HistoryStore,
  type HistoryMessage,
} from '../../src/cli/history/history-store.js';
import { HISTORY_SCHEMA_VERSION } from '../../src/cli/history/history-schema.js';
import { tempDir } from '../support/relay-harness.js';

const ME = 'a'.repeat(64);
const BOB = 'b'.repeat(64);
const CAROL = 'c'.repeat(64);
let home: string;
let key: Uint8Array;

const pid = (n: number) => n.toString(16).padStart(32, '0');

function line(
  seq: number,
  from: string,
  to: string,
  text: string,
  extra: Partial<HistoryMessage> = {},
): HistoryMessage {
  return {
    seq,
    id: pid(seq),
    from,
    to,
    time: 1_700_000_000_000 + seq,
    text,
    direction: from === ME ? 'outgoing' : 'incoming',
    ...extra,
  };
}

beforeEach(async () => {
  home = await tempDir('metachat-history-edits-');
  key = randomBytes(32);
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('edits and deletes in the local history', () => {
  it('shows the latest text with edited, hides a deleted one, and search follows', () => {
    const store = HistoryStore.open(home, key);
    store.add([
      line(1, ME, BOB, 'see you at the harbour'),
      line(2, BOB, ME, 'bring the umbrella'),
      line(3, ME, BOB, 'see you at the station', { edits: pid(1) }),
      line(4, BOB, ME, '', { deletes: pid(2) }),
      line(5, BOB, ME, 'ok', { replyTo: pid(1) }),
    ]);
    const shown = store.page(BOB, 10).messages;
    expect(shown.map((m) => [m.id, m.text, m.edited ?? false, m.deleted ?? false])).toEqual([
      [pid(1), 'see you at the station', true, false],
      [pid(2), '', false, true],
      [pid(5), 'ok', false, false],
    ]);
    expect(shown[0]?.editedAt).toBe(1_700_000_000_003);
    expect(shown[2]?.replyTo).toBe(pid(1));
    expect(store.search('harbour')).toEqual([]);
    expect(store.search('station').map((m) => m.id)).toEqual([pid(1)]);
    expect(store.search('umbrella')).toEqual([]);
    expect(store.changeState(ME, pid(3))).toBe('applied');
    store.close();
  });

  it('applies a change that came before its target once the target arrives', () => {
    const store = HistoryStore.open(home, key);
    store.add([line(9, BOB, ME, 'fixed text', { edits: pid(2) })]);
    expect(store.changeState(BOB, pid(9))).toBe('pending');
    store.add([line(2, BOB, ME, 'typo txet')]);
    expect(store.page(BOB, 10).messages.map((m) => m.text)).toEqual(['fixed text']);
    expect(store.changeState(BOB, pid(9))).toBe('applied');
    store.close();
  });

  it("refuses a peer's edit of my message, and one naming another conversation, with their codes", () => {
    const store = HistoryStore.open(home, key);
    store.add([
      line(1, ME, BOB, 'mine'),
      line(2, ME, CAROL, 'for carol'),
      line(3, BOB, ME, 'bob rewrites alice', { edits: pid(1) }),
      line(4, ME, BOB, 'moved here', { edits: pid(2) }),
      line(5, BOB, ME, '', { deletes: pid(1) }),
    ]);
    expect(store.changeState(BOB, pid(3))).toBe('EDIT_FORBIDDEN');
    expect(store.changeState(ME, pid(4))).toBe('EDIT_CONVERSATION_MISMATCH');
    expect(store.changeState(BOB, pid(5))).toBe('EDIT_FORBIDDEN');
    expect(store.page(BOB, 10).messages.map((m) => [m.text, m.edited, m.deleted])).toEqual([
      ['mine', undefined, undefined],
    ]);
    expect(store.page(CAROL, 10).messages.map((m) => m.text)).toEqual(['for carol']);
    store.close();
  });

  it('ignores an edit of a deleted message, and refuses an edit of an edit', () => {
    const store = HistoryStore.open(home, key);
    store.add([
      line(1, BOB, ME, 'original'),
      line(2, BOB, ME, '', { deletes: pid(1) }),
      line(3, BOB, ME, 'too late', { edits: pid(1) }),
      line(4, BOB, ME, 'edit of an edit', { edits: pid(3) }),
    ]);
    expect(store.page(BOB, 10).messages.map((m) => [m.text, m.deleted])).toEqual([['', true]]);
    expect(store.changeState(BOB, pid(3))).toBe('applied');
    expect(store.changeState(BOB, pid(4))).toBe('EDIT_TARGET_INVALID');
    expect(store.search('late')).toEqual([]);
    store.close();
  });

  it('upgrades a file of schema 0 in place, keeping its messages and their search', () => {
    const path = join(home, HISTORY_FILE);
    const old = new Database(path);
    old.pragma(`cipher = 'chacha20'`);
    old.pragma(`key = "x'${Buffer.from(key).toString('hex')}'"`);
    old.exec(`
      CREATE TABLE messages (seq INTEGER PRIMARY KEY, peer TEXT NOT NULL, sender TEXT NOT NULL,
        recipient TEXT NOT NULL, id TEXT NOT NULL, time INTEGER NOT NULL, outgoing INTEGER NOT NULL,
        text TEXT NOT NULL, UNIQUE (sender, id));
      CREATE INDEX messages_by_peer ON messages (peer, seq);
      CREATE VIRTUAL TABLE messages_fts USING fts5(text, content = 'messages', content_rowid = 'seq',
        tokenize = "unicode61 remove_diacritics 2 categories 'L* N* Co So'");
      CREATE TABLE counts (one INTEGER PRIMARY KEY CHECK (one = 1), messages INTEGER NOT NULL);
      CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.seq, new.text);
        UPDATE counts SET messages = messages + 1;
      END;
      INSERT INTO counts VALUES (1, 0);
    `);
    old
      .prepare('INSERT INTO messages VALUES (1, ?, ?, ?, ?, 5, 0, ?)')
      .run(BOB, BOB, ME, pid(1), 'kept from before');
    expect(old.pragma('user_version', { simple: true })).toBe(0);
    old.close();

    const store = HistoryStore.open(home, key);
    expect(store.size).toBe(1);
    expect(store.search('before').map((m) => m.id)).toEqual([pid(1)]);
    store.add([line(2, BOB, ME, 'kept from now on', { edits: pid(1) })]);
    expect(store.page(BOB, 10).messages.map((m) => [m.text, m.edited])).toEqual([
      ['kept from now on', true],
    ]);
    expect(store.search('before')).toEqual([]);
    store.close();
  });

  it('refuses a file of a newer schema with HISTORY_TOO_NEW and leaves it as it was', () => {
    HistoryStore.open(home, key).close();
    const db = new Database(join(home, HISTORY_FILE));
    db.pragma(`cipher = 'chacha20'`);
    db.pragma(`key = "x'${Buffer.from(key).toString('hex')}'"`);
    db.pragma(`user_version = ${HISTORY_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => HistoryStore.open(home, key)).toThrow(
      expect.objectContaining({
        code: 'HISTORY_TOO_NEW',
        message: expect.stringMatching(/update MetaChat/),
      }),
    );
  });
});
