import { describe, expect, it } from '@jest/globals';
import type { SearchHit } from '../../src/cli/tui/chat-cache.js';
import { cacheNote } from '../../src/cli/tui/cache-status.js';
import type { ChatLog, ChatMessage } from '../../src/cli/tui/chat-state.js';
import { ConversationBook } from '../../src/cli/tui/conversation-book.js';
import type { Keypress } from '../../src/cli/tui/key-decoder.js';
import { anchorAt, highlighted } from '../../src/cli/tui/message-focus.js';
import type { ChatLine } from '../../src/cli/tui/message-rows.js';
import {
  searchKey,
  startSearch,
  withOutcome,
  type SearchPrompt,
} from '../../src/cli/tui/search-prompt.js';
import { newProfile, prepareRegistration } from '../../src/cli/relay/account.js';

const { account } = await prepareRegistration('reader', 'correct horse battery');

const key = (name: string, mods: Partial<{ ctrl: boolean; meta: boolean }> = {}): Keypress =>
  ({ kind: 'key', name, ctrl: false, meta: false, shift: false, ...mods }) as Keypress;
const text = (value: string): Keypress => ({ kind: 'text', text: value });

function hit(n: number): SearchHit {
  return {
    peer: 'b'.repeat(64),
    name: 'bob',
    id: `p${String(n).padStart(31, '0')}`,
    seq: n,
    time: 1_700_000_000_000 + n,
    text: `hit ${n}`,
    direction: 'incoming',
  };
}

/** Presses keys one after another, collecting what they asked for. */
function press(prompt: SearchPrompt, keys: readonly Keypress[]) {
  const actions = [];
  let now = prompt;
  for (const k of keys) {
    const step = searchKey(now, k, 5);
    now = step.prompt;
    actions.push(step.action);
  }
  return { prompt: now, actions };
}

describe('the / search prompt', () => {
  it('takes what followed the / in the same keystroke, and Enter searches the words typed', () => {
    const { prompt, actions } = press(startSearch('nee'), [text('dle'), key('return')]);
    expect(prompt.editor.text).toBe('needle');
    expect(actions.at(-1)).toEqual({ kind: 'search', words: 'needle' });
  });

  it('once searched, ↑↓ and PgUp/PgDn choose within the hits and Enter opens the chosen one', () => {
    const hits = Array.from({ length: 12 }, (_, i) => hit(i));
    const found = withOutcome(startSearch('hit'), 'hit', { hits });
    const moved = press(found, [key('down'), key('down'), key('up'), key('pagedown')]);
    expect(moved.prompt.selected).toBe(6);
    expect(press(moved.prompt, [key('pagedown'), key('pagedown')]).prompt.selected).toBe(11);
    expect(press(found, [key('up')]).prompt.selected).toBe(0);
    expect(press(moved.prompt, [key('return')]).actions).toEqual([{ kind: 'open', hit: hits[6] }]);
  });

  it('changed words are searched again before anything opens', () => {
    const found = withOutcome(startSearch('hit'), 'hit', { hits: [hit(1)] });
    const { actions } = press(found, [text(' 2'), key('return')]);
    expect(actions.at(-1)).toEqual({ kind: 'search', words: 'hit 2' });
  });

  it('Esc leaves; / on an empty prompt leaves with a / in the draft; blank words are not searched', () => {
    expect(press(startSearch('x'), [key('escape')]).actions).toEqual([{ kind: 'leave' }]);
    expect(press(startSearch(), [text('/tmp')]).actions).toEqual([
      { kind: 'leave', draft: '/tmp' },
    ]);
    const blank = press(startSearch('   '), [key('return')]);
    expect(blank.actions).toEqual([{ kind: 'none' }]);
    expect(blank.prompt.note).toMatch(/Type the words/);
  });

  it('keeps the words on one line and swallows the keys of the conversation behind it', () => {
    const pasted = press(startSearch(), [
      { kind: 'paste', text: 'two\nlines 🦊\u200f', cut: false },
      key('newline'),
      key('return', { meta: true }),
      key('letter-r', { ctrl: true }),
      key('letter-b', { ctrl: true }),
    ]);
    // The bidi mark goes, as from a draft (the search drops such marks anyway).
    expect(pasted.prompt.editor.text).toBe('two lines 🦊');
    expect(pasted.actions.every((action) => action.kind === 'none')).toBe(true);
    expect(startSearch('a\r\nb').editor.text).toBe('a b');
  });
});

function lines(rows: readonly [string, number][]): ChatLine[] {
  return rows.flatMap(([row, count]) =>
    Array.from({ length: count }, (_, index) => ({ row, index, spans: [{ text: row }] })),
  );
}

describe('opening at a message', () => {
  const all = lines([
    ['a', 1],
    ['b', 1],
    ['hit', 2],
    ['c', 1],
    ['d', 1],
    ['e', 1],
    ['f', 1],
    ['g', 1],
  ]);

  it('scrolls so the message sits in the middle, or follows the newest when it is among them', () => {
    // 2 lines of the hit in 6 rows: 2 below it.
    expect(anchorAt(all, 'hit', 6)).toEqual({ anchor: { row: 'd', index: 0 } });
    expect(anchorAt(all, 'f', 6)).toEqual({ anchor: null });
    expect(anchorAt(all, 'missing', 6)).toBeUndefined();
  });

  it('draws only that message inverse', () => {
    const marked = highlighted(all, 'hit');
    expect(marked.filter((line) => line.spans[0]?.inverse === true).map((l) => l.row)).toEqual([
      'hit',
      'hit',
    ]);
    expect(highlighted(all, undefined)).toEqual(all);
  });
});

describe('a conversation shown from the local history', () => {
  const log = (messages: ChatMessage[], cached: boolean): ChatLog => ({
    peer: 'p',
    messages,
    hasOlder: true,
    loadingOlder: false,
    cached,
  });
  const message = (seq: number): ChatMessage => ({
    id: `m${String(seq)}`,
    seq,
    time: seq,
    direction: 'incoming',
    text: `t${String(seq)}`,
  });

  it('is marked in the status line until the relay catches up, offline when out of reach', () => {
    expect(cacheNote(log([message(1)], true), { status: 'connected' })).toMatch(/catching up/);
    expect(cacheNote(log([message(1)], true), { status: 'reconnecting', attempt: 2 })).toBe(
      'offline: from this device’s history',
    );
    expect(cacheNote(log([], true), { status: 'offline', reason: 'x' })).toBe(
      'offline: nothing held on this device',
    );
    expect(cacheNote(log([message(1)], false), { status: 'offline', reason: 'x' })).toBeNull();
    expect(cacheNote(undefined, { status: 'connected' })).toBeNull();
  });

  const book = () =>
    new ConversationBook(account.identifier, newProfile(account, 'http://127.0.0.1:9', true));

  it('merges the relay page without duplicates; a page that does not reach the cache replaces it', () => {
    const overlapping = book();
    overlapping.cached('p', [message(1), message(2), message(3)]);
    expect(overlapping.log('p')?.cached).toBe(true);
    overlapping.loaded('p', [message(3), message(4)], true);
    expect(overlapping.log('p')?.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(overlapping.log('p')?.cached).toBe(false);

    const gap = book();
    gap.cached('p', [message(1), message(2)]);
    gap.loaded('p', [message(10), message(11)], true);
    // Messages 3 to 9 are not on this device: 1 and 2 go, PgUp pages back through the relay.
    expect(gap.log('p')?.messages.map((m) => m.seq)).toEqual([10, 11]);

    const atHit = book();
    atHit.cached('p', [message(1), message(2)], true);
    atHit.loaded('p', [message(10), message(11)], true);
    expect(atHit.log('p')?.messages.map((m) => m.seq)).toEqual([1, 2, 10, 11]);
  });
});
