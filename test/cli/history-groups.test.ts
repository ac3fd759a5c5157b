import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { HistoryStore, type HistoryMessage } from '../../src/cli/history/history-store.js';
import { tempDir } from '../support/relay-harness.js';

const ME = 'a'.repeat(64);
const BOB = 'b'.repeat(64);
const CAROL = 'c'.repeat(64);
const TEAM = `group:${'1'.repeat(64)}`;
const OTHER = `group:${'2'.repeat(64)}`;
let home: string;
let key: Uint8Array;

const pid = (n: number) => n.toString(16).padStart(32, '0');

/** A verified group message as group-reader keeps it: to `group:<id>`. */
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
  home = await tempDir('metachat-history-groups-');
  key = randomBytes(32);
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('group messages in the local history', () => {
  it('are one conversation under group:<id>, apart from the 1:1 ones, and searchable by it', () => {
    const store = HistoryStore.open(home, key);
    store.add([
      line(1, BOB, TEAM, 'the harbour at noon'),
      line(2, ME, TEAM, 'fine by me'),
      line(3, BOB, ME, 'the harbour privately'),
      line(4, CAROL, OTHER, 'another harbour'),
    ]);
    expect(store.page(TEAM, 10).messages.map((m) => [m.from, m.text])).toEqual([
      [BOB, 'the harbour at noon'],
      [ME, 'fine by me'],
    ]);
    expect(store.page(BOB, 10).messages.map((m) => m.text)).toEqual(['the harbour privately']);
    expect(store.search('harbour').map((m) => m.peer)).toEqual([OTHER, BOB, TEAM]);
    expect(store.search('harbour', { peer: TEAM }).map((m) => m.text)).toEqual([
      'the harbour at noon',
    ]);
    store.close();
  });

  it('applies a group edit or delete by the same rules: only the sender, only in that group', () => {
    const store = HistoryStore.open(home, key);
    store.add([
      line(1, BOB, TEAM, 'dinner at 7'),
      line(2, BOB, ME, 'a private note'),
      line(3, CAROL, TEAM, 'carol was here', { edits: pid(1) }),
      // Bob's group edit naming his 1:1 message: another conversation, refused.
      line(4, BOB, TEAM, 'moved into the group', { edits: pid(2) }),
      line(5, BOB, TEAM, '', { deletes: pid(7) }),
      line(6, BOB, TEAM, 'dinner at 8', { edits: pid(1) }),
      line(7, BOB, TEAM, 'bring wine'),
    ]);
    expect(store.page(TEAM, 10).messages.map((m) => [m.text, m.edited, m.deleted])).toEqual([
      ['dinner at 8', true, undefined],
      ['', undefined, true],
    ]);
    expect(store.page(BOB, 10).messages.map((m) => m.text)).toEqual(['a private note']);
    expect(store.changeState(CAROL, pid(3))).toBe('EDIT_FORBIDDEN');
    expect(store.changeState(BOB, pid(4))).toBe('EDIT_CONVERSATION_MISMATCH');
    store.close();
  });

  it('bounds a group nobody accepted like a stranger, on its own, never an accepted group', () => {
    const store = HistoryStore.open(home, key, undefined, undefined, { strangerMessages: 3 });
    const flood = Array.from({ length: 6 }, (_, i) => line(10 + i, CAROL, OTHER, `flood ${i}`));
    store.add(
      [...flood, ...Array.from({ length: 6 }, (_, i) => line(20 + i, BOB, TEAM, `team ${i}`))],
      'stream',
      (conversation) => conversation === TEAM,
    );
    expect(store.page(OTHER, 10).messages.map((m) => m.text)).toEqual([
      'flood 3',
      'flood 4',
      'flood 5',
    ]);
    expect(store.page(TEAM, 10).messages).toHaveLength(6);
    // Once I wrote in it, a group is accepted: nothing of it goes any more.
    store.add([line(30, ME, OTHER, 'who are you?'), line(31, CAROL, OTHER, 'flood 6')]);
    expect(store.page(OTHER, 10).messages).toHaveLength(5);
    store.close();
  });
});
