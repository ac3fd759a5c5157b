import { describe, expect, it } from '@jest/globals';
import { render } from 'ink-testing-library';
import { useRef } from 'react';
import { refusalOf } from '../../src/cli/outgoing/message-refusal.js';
import { DRAFT_MAX_BYTES, cleanDraftText, draftBytes } from '../../src/cli/outgoing/draft-text.js';
import { graphemeStart } from '../../src/cli/tui/graphemes.js';
import type { Keypress } from '../../src/cli/tui/key-decoder.js';
import {
  EMPTY_EDITOR,
  afterSubmit,
  editKey,
  type EditorState,
} from '../../src/cli/tui/line-editor.js';
import { KeyboardProvider, useKeys } from '../../src/cli/tui/use-keys.js';
import { prng } from '../support/prng.js';

/** Feeds raw chunks through Ink's own input parser (as a terminal read delivers them) into a probe. */
function probe(onKey: (press: Keypress) => void) {
  function Probe() {
    const seen = useRef(onKey);
    useKeys((press) => {
      seen.current(press);
      return true;
    });
    return null;
  }
  return render(
    <KeyboardProvider>
      <Probe />
    </KeyboardProvider>,
  );
}

async function tick(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

/** The keys Ink hands over for chunks written one after the other. */
async function keysOf(...chunks: string[]): Promise<Keypress[]> {
  const keys: Keypress[] = [];
  const screen = probe((press) => keys.push(press));
  await tick();
  for (const chunk of chunks) screen.stdin.write(chunk);
  await tick();
  screen.unmount();
  return keys;
}

function typed(state: EditorState, ...presses: Keypress[]): EditorState {
  return presses.reduce((now, press) => editKey(now, press).state, state);
}

const key = (name: string, mods: Partial<Record<'ctrl' | 'meta' | 'shift', boolean>> = {}) =>
  ({
    kind: 'key',
    name,
    ctrl: mods.ctrl ?? false,
    meta: mods.meta ?? false,
    shift: mods.shift ?? false,
  }) as Keypress;

describe('keys that arrive together (one read, as over ssh or from tmux send-keys)', () => {
  it('splits typed text and the Backspace read with it', async () => {
    expect(await keysOf('typo\u007f')).toEqual([{ kind: 'text', text: 'typo' }, key('backspace')]);
  });

  it('splits two control keys read together (Ctrl+E Ctrl+U), and inserts nothing raw', async () => {
    const keys = await keysOf('abc\u0005\u0015');
    expect(keys).toEqual([
      { kind: 'text', text: 'abc' },
      key('letter-e', { ctrl: true }),
      key('letter-u', { ctrl: true }),
    ]);
    expect(typed({ ...EMPTY_EDITOR, text: '', cursor: 0 }, ...keys).text).toBe('');
  });

  it('hands over three PageUps read together as three keys', async () => {
    expect(await keysOf('\u001b[5~\u001b[5~\u001b[5~')).toEqual([
      key('pageup'),
      key('pageup'),
      key('pageup'),
    ]);
  });

  it('tells Backspace from Delete, and reads word motions and modified arrows', async () => {
    expect(
      await keysOf('\u007f', '\u001b[3~', '\u001bb', '\u001bf', '\u001b\u007f', '\u001b[1;5D'),
    ).toEqual([
      key('backspace'),
      key('delete'),
      key('letter-b', { meta: true }),
      key('letter-f', { meta: true }),
      key('backspace', { meta: true }),
      key('left', { ctrl: true }),
    ]);
    expect(await keysOf('\u001b[1;3C', '\u001b[H', '\u001b[F', '\u001b[1;2A', '\u001b\r')).toEqual([
      key('right', { meta: true }),
      key('home'),
      key('end'),
      key('up', { shift: true }),
      key('newline', { meta: true }),
    ]);
  });

  it('collects a bracketed paste across reads, escape sequences inside it included', async () => {
    expect(await keysOf('\u001b[200~one\r', 'two\u001b[Athree', '\u001b[201~x')).toEqual([
      { kind: 'paste', text: 'one\rtwo\u001b[Athree', cut: false },
      { kind: 'text', text: 'x' },
    ]);
  });
});

describe('the line editor', () => {
  const draft = (text: string, cursor = text.length): EditorState => ({
    ...EMPTY_EDITOR,
    text,
    cursor,
  });

  it('Delete deletes forward, Backspace backward', () => {
    expect(typed(draft('abc', 1), key('delete')).text).toBe('ac');
    expect(typed(draft('abc', 1), key('backspace')).text).toBe('bc');
  });

  it('moves and deletes by word (Ctrl/Alt+←→, Alt+B/F, Alt+Backspace, Ctrl+W, Alt+D)', () => {
    const start = draft('hello big world');
    expect(typed(start, key('left', { ctrl: true })).cursor).toBe(10);
    expect(typed(start, key('left', { meta: true }), key('left', { meta: true })).cursor).toBe(6);
    expect(typed(draft('hello big world', 0), key('letter-f', { meta: true })).cursor).toBe(5);
    expect(typed(start, key('backspace', { meta: true })).text).toBe('hello big ');
    expect(typed(draft('a foo.bar'), key('letter-w', { ctrl: true })).text).toBe('a ');
    expect(typed(draft('hello big world', 6), key('letter-d', { meta: true })).text).toBe(
      'hello  world',
    );
  });

  it('Home/End and Ctrl+A/E go to the ends of the current line; Ctrl+U and Ctrl+K cut to them', () => {
    const text = 'first line\nsecond line\nthird';
    const middle = draft(text, 14);
    expect(typed(middle, key('home')).cursor).toBe(11);
    expect(typed(middle, key('end')).cursor).toBe(22);
    expect(typed(middle, key('letter-a', { ctrl: true })).cursor).toBe(11);
    expect(typed(middle, key('letter-e', { ctrl: true })).cursor).toBe(22);
    expect(typed(middle, key('letter-u', { ctrl: true })).text).toBe('first line\nond line\nthird');
    expect(typed(middle, key('letter-k', { ctrl: true })).text).toBe('first line\nsec\nthird');
  });

  it('drops controls and bidi characters from what is typed or pasted, and says so', () => {
    const result = editKey(EMPTY_EDITOR, {
      kind: 'paste',
      text: 'to \u2068Bob\u2069 \u202eevil\u0007',
      cut: false,
    });
    expect(result.state.text).toBe('to Bob evil');
    expect(result.note).toBe('4 control characters removed.');
  });

  it('stops typed text at the 16 KiB limit and says how much was left out', () => {
    // 2,500 of them are 20,000 bytes: under 4,000 characters, over the 16 KiB a message may hold.
    const emoji = '👍🏽'.repeat(2_500);
    const result = editKey(EMPTY_EDITOR, { kind: 'text', text: emoji });
    expect(draftBytes(result.state.text)).toBe(DRAFT_MAX_BYTES);
    expect(result.note).toBe('Message limit reached (16.0 KiB): 452 characters not added.');
    expect(refusalOf(result.state.text)).toBeNull();
  });

  it('refuses a paste that does not fit whole, and says so', () => {
    const start = draft('keep me');
    const result = editKey(start, { kind: 'paste', text: 'x'.repeat(20_000), cut: false });
    expect(result.state).toBe(start);
    expect(result.note).toMatch(/^Paste not added: 19\.5 KiB would not fit in the 16\.0 KiB/);
  });

  it('never sends white space only, and keeps what was sent for ↑', () => {
    expect(editKey(draft('  \n '), key('return')).submit).toBeUndefined();
    const sent = afterSubmit(draft('hi'), 'hi');
    expect(typed(sent, key('up')).text).toBe('hi');
  });
});

/** Random terminal input: text of many scripts, every kind of control, sequences whole and cut. */
function randomChunk(random: () => number): string {
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const code = (from: number, to: number) =>
    String.fromCharCode(from + Math.floor(random() * (to - from + 1)));
  const pieces: (() => string)[] = [
    () => pick(['hello', 'a', ' ', 'word ', 'ÿ', 'é', 'e\u0301', '  ']),
    () => pick(['😀', '👍🏽', '👨‍👩‍👧', '🇫🇷', '漢字', 'ﷺ', 'עברית', '\u0915\u094d\u0937']),
    () => '😀'.repeat(1 + Math.floor(random() * (random() < 0.02 ? 3_000 : 20))),
    () => code(0x00, 0x1f),
    () => '\u007f',
    () => code(0x80, 0x9f),
    () => pick(['\u200e', '\u200f', '\u061c', '\u2028', '\u2029', '\ufeff']),
    () => code(0x202a, 0x202e),
    () => code(0x2066, 0x2069),
    () => pick(['\ud800', '\udfff', '\ud83d']),
    () =>
      pick([
        '\u001b[A',
        '\u001b[B',
        '\u001b[C',
        '\u001b[D',
        '\u001b[1;5D',
        '\u001b[1;3C',
        '\u001b[3~',
        '\u001b[5~',
        '\u001b[6~',
        '\u001b[H',
        '\u001b[F',
        '\u001bOA',
        '\u001b\u007f',
        '\u001bb',
        '\u001bd',
        '\u001b\r',
        '\u001b[Z',
        '\u001b[99;99~',
        '\u001b[200~',
        '\u001b[201~',
      ]),
    () => `\u001b${code(0x00, 0x7f)}`,
    () => `\u001b[${code(0x30, 0x3f)}`,
    () => pick(['\r', '\n', '\r\n', '\t']),
  ];
  let chunk = '';
  const count = 1 + Math.floor(random() * 8);
  for (let i = 0; i < count; i++) chunk += pick(pieces)();
  return chunk;
}

/** What any draft must be: no control, within the budget, a cursor inside it. */
function expectLegal(state: EditorState): void {
  expect(cleanDraftText(state.text)).toEqual({ text: state.text, stripped: 0 });
  expect(draftBytes(state.text)).toBeLessThanOrEqual(DRAFT_MAX_BYTES);
  expect(state.cursor).toBeGreaterThanOrEqual(0);
  expect(state.cursor).toBeLessThanOrEqual(state.text.length);
  // The cursor never splits a character a user sees as one.
  expect(graphemeStart(state.text, state.cursor)).toBe(state.cursor);
}

describe('the editor under random input (seeded; METACHAT_KEYS_SEED replays another)', () => {
  it('never throws, never holds an illegal draft, never submits what the core refuses', async () => {
    const seed = Number(process.env['METACHAT_KEYS_SEED'] ?? 11);
    const random = prng(seed);
    let state = EMPTY_EDITOR;
    let submitted = 0;
    let keys = 0;
    const screen = probe((press) => {
      keys++;
      const result = editKey(state, press);
      state = result.state;
      if (result.submit !== undefined) {
        expect(refusalOf(result.submit)).toBeNull();
        submitted++;
        state = afterSubmit(state, result.submit);
      }
    });
    await tick();
    const CASES = 4_000;
    for (let i = 0; i < CASES; i++) {
      const chunk = randomChunk(random);
      try {
        screen.stdin.write(chunk);
        expectLegal(state);
      } catch (error) {
        throw new Error(`seed ${String(seed)}, case ${String(i)}: ${JSON.stringify(chunk)}`, {
          cause: error,
        });
      }
      // A lone ESC at the end of a read waits for the next one (or this tick) to be a key.
      if (i % 50 === 0) await tick();
    }
    await tick();
    screen.unmount();
    expect(keys).toBeGreaterThan(CASES);
    expect(submitted).toBeGreaterThan(0);
  }, 60_000);
});
