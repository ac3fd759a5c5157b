import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { chmod, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  HISTORY_FILE,
  HistoryStore,
  type HistoryMessage,
} from '../../src/cli/history/history-store.js';
import { SearchTooLongError } from '../../src/cli/history/search-query.js';
import { keepInHistory, type HistoryHolder } from '../../src/cli/history/history-access.js';
import Database from 'better-sqlite3-multiple-ciphers';
import { UsageError } from '../../src/cli/cli-errors.js';
import { tempDir } from '../support/relay-harness.js';

const ME = 'a'.repeat(64);
const BOB = 'b'.repeat(64);
const CAROL = 'c'.repeat(64);
let home: string;
let key: Uint8Array;

function line(seq: number, peer: string, text: string, outgoing = false): HistoryMessage {
  return {
    seq,
    id: `p${String(seq).padStart(31, '0')}`,
    from: outgoing ? ME : peer,
    to: outgoing ? peer : ME,
    time: 1_700_000_000_000 + seq,
    text,
    direction: outgoing ? 'outgoing' : 'incoming',
  };
}

beforeEach(async () => {
  home = await tempDir('metachat-history-');
  key = randomBytes(32);
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('the local history store', () => {
  it('is encrypted at rest: no message text in the file or its write-ahead log, mode 0600', async () => {
    const store = HistoryStore.open(home, key);
    store.add([line(1, BOB, 'the secret rendezvous is at noon'), line(2, BOB, 'zebra', true)]);
    // Read while open too: the write-ahead log holds the newest pages.
    for (const name of await readdir(home)) {
      const bytes = await readFile(join(home, name));
      expect(bytes.includes('rendezvous')).toBe(false);
      expect(bytes.includes('zebra')).toBe(false);
      expect(bytes.includes('SQLite format 3')).toBe(false);
    }
    store.close();
    const bytes = await readFile(join(home, HISTORY_FILE));
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes('rendezvous')).toBe(false);
    expect(bytes.includes('messages_fts')).toBe(false);
    expect((await stat(join(home, HISTORY_FILE))).mode & 0o777).toBe(0o600);
    // And it opens again with the key.
    const again = HistoryStore.open(home, key);
    expect(again.page(BOB, 10).messages.map((m) => m.text)).toEqual([
      'the secret rendezvous is at noon',
      'zebra',
    ]);
    again.close();
  });

  it('makes the file and its -wal and -shm 0600 again at open when others may read them, and says which', async () => {
    const first = HistoryStore.open(home, key);
    first.add([line(1, BOB, 'kept private')]);
    // The first store stays open, so the write-ahead log and shared memory files exist.
    const names = [HISTORY_FILE, `${HISTORY_FILE}-wal`, `${HISTORY_FILE}-shm`];
    const modes = [0o644, 0o640, 0o606];
    for (const [i, name] of names.entries()) await chmod(join(home, name), modes[i] ?? 0);
    const second = HistoryStore.open(home, key);
    try {
      expect(second.modesFixed).toEqual(
        names.map((name, i) => ({ path: join(home, name), mode: modes[i] })),
      );
      for (const name of names) expect((await stat(join(home, name))).mode & 0o777).toBe(0o600);
      expect(second.page(BOB, 10).messages.map((m) => m.text)).toEqual(['kept private']);
    } finally {
      second.close();
    }
    // Private already: nothing to say the next time.
    const third = HistoryStore.open(home, key);
    expect(third.modesFixed).toEqual([]);
    third.close();
    first.close();
  });

  it('refuses another key with HISTORY_LOCKED and leaves the file as it was', async () => {
    const store = HistoryStore.open(home, key);
    store.add([line(1, BOB, 'kept')]);
    store.close();
    const before = await readFile(join(home, HISTORY_FILE));
    expect(() => HistoryStore.open(home, randomBytes(32))).toThrow(
      expect.objectContaining({
        code: 'HISTORY_LOCKED',
        message: expect.stringMatching(/move it away/),
      }),
    );
    expect((await readFile(join(home, HISTORY_FILE))).equals(before)).toBe(true);
    const again = HistoryStore.open(home, key);
    expect(again.size).toBe(1);
    again.close();
  });

  it('reports a damaged page as HISTORY_CORRUPT, never a crash, and changes nothing', async () => {
    const store = HistoryStore.open(home, key);
    store.add(
      Array.from({ length: 400 }, (_, i) => line(i + 1, BOB, `message number ${i} `.repeat(20))),
    );
    store.close();
    const path = join(home, HISTORY_FILE);
    const size = (await stat(path)).size;
    expect(size).toBeGreaterThan(8 * 4096);
    // Flip bytes in every page but the first: each page's tag fails.
    const file = await open(path, 'r+');
    for (let offset = 4096 + 100; offset < size; offset += 4096)
      await file.write(Buffer.from([0xff, 0x00, 0xff]), 0, 3, offset);
    await file.close();
    const damaged = await readFile(path);
    let caught: unknown;
    try {
      const opened = HistoryStore.open(home, key);
      try {
        opened.page(BOB, 500);
        opened.search('message');
      } finally {
        opened.close();
      }
    } catch (error) {
      caught = error;
    }
    expect(caught).toEqual(expect.objectContaining({ code: 'HISTORY_CORRUPT' }));
    expect((await readFile(path)).equals(damaged)).toBe(true);
  });

  it('keeps each packet once: the same id from the same sender, or a taken place, is ignored', () => {
    const store = HistoryStore.open(home, key);
    expect(store.add([line(1, BOB, 'first')])).toEqual({ added: 1, full: false });
    expect(store.add([line(1, BOB, 'first')])).toEqual({ added: 0, full: false });
    // The same id at another place (a relay replaying it): still one.
    expect(store.add([{ ...line(1, BOB, 'first'), seq: 9 }])).toEqual({ added: 0, full: false });
    // Another packet claiming a taken place: the one held stays.
    expect(store.add([{ ...line(2, BOB, 'other'), seq: 1 }])).toEqual({ added: 0, full: false });
    expect(store.page(BOB, 10).messages.map((m) => m.text)).toEqual(['first']);
    store.close();
  });

  it('a sent message at a place only an ack gave gives way to the packet a page verifies there', () => {
    const store = HistoryStore.open(home, key);
    // The relay acknowledged my message at 5; the stream shows Bob's packet there and mine at 4.
    const mine = line(4, BOB, 'mine', true);
    expect(store.add([{ ...mine, seq: 5 }], 'ack')).toEqual({ added: 1, full: false });
    // Another ack claiming a held place never overwrites it.
    expect(store.add([{ ...line(9, BOB, 'other', true), seq: 5 }], 'ack').added).toBe(0);
    expect(store.add([mine, line(5, BOB, 'bob at five')])).toEqual({ added: 2, full: false });
    expect(store.page(BOB, 10).messages.map((m) => [m.seq, m.text])).toEqual([
      [4, 'mine'],
      [5, 'bob at five'],
    ]);
    expect(store.search('mine').map((m) => m.seq)).toEqual([4]);
    expect(store.search('bob').map((m) => m.seq)).toEqual([5]);
    expect(store.size).toBe(2);
    store.close();
    const again = HistoryStore.open(home, key);
    expect(again.size).toBe(2);
    // An incoming packet is never displaced by a page's other claim.
    expect(again.add([{ ...line(6, BOB, 'not bob'), seq: 5 }]).added).toBe(0);
    expect(again.at(5)?.text).toBe('bob at five');
    again.close();
  });

  it('a replayed packet already held elsewhere never displaces a sent message (hostile relay)', () => {
    const store = HistoryStore.open(home, key);
    const mine = line(5, BOB, 'my words', true);
    expect(store.add([line(2, BOB, 'bob at two'), mine])).toEqual({ added: 2, full: false });
    // The relay replays Bob's packet (held at 2) as message 5, where my sent message is: it cannot
    // be kept there (held already), so mine stays, with its words and the count.
    expect(store.add([{ ...line(2, BOB, 'bob at two'), seq: 5 }])).toEqual({
      added: 0,
      full: false,
    });
    expect(store.at(5)?.text).toBe('my words');
    expect(store.search('words').map((m) => m.seq)).toEqual([5]);
    expect(store.size).toBe(2);
    store.close();
    expect(HistoryStore.open(home, key).size).toBe(2);
  });

  it('a sent message a page placed never gives way to another packet a later page claims there', () => {
    const store = HistoryStore.open(home, key);
    // My message as a verified page showed it (its true place), then a hostile relay's page
    // claims that place for another genuine packet: mine stays, and the other is not kept there.
    expect(store.add([line(5, BOB, 'mine verified', true)])).toEqual({ added: 1, full: false });
    expect(store.add([{ ...line(7, BOB, 'bob elsewhere'), seq: 5 }]).added).toBe(0);
    expect(store.at(5)?.text).toBe('mine verified');
    // Nor does my own packet move away from a place a page gave it.
    expect(store.add([{ ...line(5, BOB, 'mine verified', true), seq: 8 }]).added).toBe(0);
    expect(store.at(5)?.text).toBe('mine verified');
    // An ack's place that a page then confirmed is the stream's too.
    expect(store.add([line(6, BOB, 'acked', true)], 'ack').added).toBe(1);
    expect(store.add([line(6, BOB, 'acked', true)]).added).toBe(0);
    expect(store.add([{ ...line(9, BOB, 'claim'), seq: 6 }]).added).toBe(0);
    expect(store.at(6)?.text).toBe('acked');
    expect(store.size).toBe(2);
    store.close();
  });

  it('is bounded: past its size no message is added, whatever the relay sends', () => {
    const store = HistoryStore.open(home, key, 3);
    expect(store.add([1, 2, 3, 4, 5].map((seq) => line(seq, BOB, `m${seq}`)))).toEqual({
      added: 3,
      full: true,
    });
    store.close();
    const again = HistoryStore.open(home, key, 3);
    expect(again.size).toBe(3);
    expect(again.add([line(6, BOB, 'm6')])).toEqual({ added: 0, full: true });
    again.close();
  });

  it('bounds a stranger: past its share its oldest go first, never a conversation I wrote in', () => {
    const bounds = { strangerMessages: 5, strangerBytes: 1_000 };
    const store = HistoryStore.open(home, key, undefined, undefined, bounds);
    // Bob is a contact (I wrote to him); Carol never heard from me.
    store.add([line(1, BOB, 'to bob', true), line(2, BOB, 'from bob')]);
    store.add(Array.from({ length: 20 }, (_, i) => line(100 + i, CAROL, `flood ${i}`)));
    expect(store.page(CAROL, 50).messages.map((m) => m.text)).toEqual(
      [15, 16, 17, 18, 19].map((i) => `flood ${i}`),
    );
    // Bytes too: two long ones fill her share, the older goes.
    store.add([line(200, CAROL, 'x'.repeat(600)), line(201, CAROL, 'y'.repeat(600))]);
    expect(store.page(CAROL, 50).messages.map((m) => m.seq)).toEqual([201]);
    store.add(Array.from({ length: 20 }, (_, i) => line(300 + i, BOB, `bob ${i}`)));
    expect(store.page(BOB, 50).messages).toHaveLength(22);
    // A peer the caller knows (accepted) is not a stranger either.
    const dave = 'd'.repeat(64);
    store.add(
      Array.from({ length: 10 }, (_, i) => line(400 + i, dave, `dave ${i}`)),
      'stream',
      (peer) => peer === dave,
    );
    expect(store.page(dave, 50).messages).toHaveLength(10);
    expect(store.size).toBe(1 + 22 + 10);
    store.close();
    expect(HistoryStore.open(home, key).size).toBe(33);
  });

  it('is bounded in bytes: past the file size it keeps no new message', () => {
    const store = HistoryStore.open(home, key, undefined, undefined, { maxBytes: 64 * 1024 });
    const big = Array.from({ length: 40 }, (_, i) => line(i + 1, BOB, `${i} `.repeat(2_000)));
    let full = false;
    for (const batch of big) if (store.add([batch]).full) full = true;
    expect(full).toBe(true);
    expect(store.size).toBeLessThan(40);
    store.close();
  });

  it('pages a conversation backwards by seq, oldest first in a page', () => {
    const store = HistoryStore.open(home, key);
    store.add(
      Array.from({ length: 30 }, (_, i) => line(i + 1, i % 2 === 0 ? BOB : CAROL, `m${i + 1}`)),
    );
    const newest = store.page(BOB, 5);
    expect(newest.messages.map((m) => m.seq)).toEqual([21, 23, 25, 27, 29]);
    expect(newest.more).toBe(true);
    const older = store.page(BOB, 10, 21);
    expect(older.messages.map((m) => m.seq)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    expect(older.more).toBe(false);
    expect(store.find(BOB, line(7, BOB, '').id)?.seq).toBe(7);
    expect(store.after(BOB, 7, 2).map((m) => m.seq)).toEqual([9, 11]);
    store.close();
  });

  it('searches whole words, newest first, all words required, by peer if asked', () => {
    const store = HistoryStore.open(home, key);
    store.add([
      line(3, BOB, 'lunch tomorrow?'),
      line(1, BOB, 'Lunch was great'),
      line(7, CAROL, 'lunch at the café tomorrow', true),
      line(5, BOB, 'launch day'),
    ]);
    expect(store.search('lunch').map((m) => m.seq)).toEqual([7, 3, 1]);
    expect(store.search('LUNCH tomorrow').map((m) => m.seq)).toEqual([7, 3]);
    expect(store.search('lunch', { peer: BOB }).map((m) => [m.seq, m.peer])).toEqual([
      [3, BOB],
      [1, BOB],
    ]);
    expect(store.search('cafe').map((m) => m.seq)).toEqual([7]);
    expect(store.search('lunch', { limit: 1 }).map((m) => m.seq)).toEqual([7]);
    store.close();
  });

  it('never lets typed words reach FTS5 syntax: operators are searched as words or match nothing', () => {
    const store = HistoryStore.open(home, key);
    store.add([
      line(1, BOB, 'NEAR AND OR NOT text'),
      line(2, BOB, 'emoji 🎉 party'),
      line(3, BOB, 'plain'),
    ]);
    for (const attempt of [
      'NEAR(',
      '"',
      '""""',
      '*',
      'a*',
      'text:plain',
      '^plain',
      'plain OR',
      '(plain',
      'NOT',
      "'; DROP TABLE messages; --",
      '{text}: plain',
    ]) {
      expect(() => store.search(attempt)).not.toThrow();
    }
    expect(store.search('NEAR(').map((m) => m.seq)).toEqual([1]);
    expect(store.search('plain OR').map((m) => m.seq)).toEqual([]);
    expect(store.search('text:plain').map((m) => m.seq)).toEqual([]);
    expect(store.search('🎉').map((m) => m.seq)).toEqual([2]);
    // Bidi and zero-width marks are not part of a word.
    expect(store.search('\u202eplain\u200b').map((m) => m.seq)).toEqual([3]);
    expect(store.size).toBe(3);
    store.close();
  });

  it('splits a search on every whitespace: a tab or newline separates words, never joins them', () => {
    const store = HistoryStore.open(home, key);
    store.add([line(1, BOB, 'foo and bar'), line(2, BOB, 'foobar')]);
    expect(store.search('foo\tbar').map((m) => m.seq)).toEqual([1]);
    expect(store.search('foo\nbar').map((m) => m.seq)).toEqual([1]);
    expect(store.search('foo\r\n\u2028bar').map((m) => m.seq)).toEqual([1]);
    expect(store.search('foo\u200bbar').map((m) => m.seq)).toEqual([2]);
    store.close();
  });

  it('refuses an empty or oversized search with a typed error', () => {
    const store = HistoryStore.open(home, key);
    expect(() => store.search('   \u200e ')).toThrow(UsageError);
    expect(() => store.search('\u0000\u202e')).toThrow(UsageError);
    expect(() => store.search('x'.repeat(100_000))).toThrow(SearchTooLongError);
    expect(() => store.search(Array.from({ length: 17 }, (_, i) => `w${i}`).join(' '))).toThrow(
      expect.objectContaining({ code: 'SEARCH_TOO_LONG' }),
    );
    store.close();
  });
});

describe('the history of a command', () => {
  it('lets the history go, said once, when SQLite refuses a write (busy past its wait), instead of failing the command', () => {
    const store = HistoryStore.open(home, key);
    // Another process holds the write lock longer than the store's busy wait.
    const other = new Database(join(home, HISTORY_FILE));
    other.pragma(`cipher = 'chacha20'`);
    other.pragma(`key = "x'${Buffer.from(key).toString('hex')}'"`);
    other.exec('BEGIN IMMEDIATE');
    const holder = { home, history: store, profile: { peers: {} } } as unknown as HistoryHolder;
    const said: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string | Uint8Array) => {
      said.push(String(chunk));
      return true;
    };
    try {
      keepInHistory(holder, [line(1, BOB, 'kept while locked')]);
    } finally {
      process.stderr.write = write;
      other.exec('ROLLBACK');
      other.close();
    }
    expect(holder.history).toBeUndefined();
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/SQLITE_BUSY.*Going on without it/);
    expect(said[0]).not.toContain('kept while locked');
    // Nothing was half written: the file opens and holds no message.
    const reopened = HistoryStore.open(home, key);
    expect(reopened.size).toBe(0);
    reopened.close();
  }, 20_000);
});
