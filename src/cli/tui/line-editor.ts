import { DRAFT_MAX_BYTES, cleanDraftText, draftBytes, kib } from '../outgoing/draft-text.js';
import {
  graphemeStart,
  graphemes,
  nextBoundary,
  previousBoundary,
  snapToBoundary,
} from './graphemes.js';
import { isCtrl, isKey, isMeta, type Keypress } from './key-decoder.js';

/** The draft, where the cursor is (a UTF-16 offset, always at a grapheme boundary) and what ↑ recalls. */
export interface EditorState {
  readonly text: string;
  readonly cursor: number;
  /** What was sent from this editor, oldest first. */
  readonly history: readonly string[];
  /** While ↑↓ browse the history: where, and the draft to come back to. */
  readonly recall: { readonly index: number; readonly draft: string } | null;
}

/** What one keypress did: the new state, a draft to send (Enter), a word for the status line. */
export interface EditResult {
  readonly state: EditorState;
  readonly submit?: string;
  readonly note?: string;
  /** False for keys the editor does not use (PageUp, Esc, Ctrl+R…): the view's to act on. */
  readonly handled: boolean;
}

/** How many sent drafts ↑ can recall. */
const HISTORY_MAX = 100;

/** An empty editor with no history. */
export const EMPTY_EDITOR: EditorState = { text: '', cursor: 0, history: [], recall: null };

const WORD = /[\p{L}\p{N}\p{M}_]/u;
const SPACE = /\s/u;

function edited(state: EditorState, text: string, cursor: number): EditorState {
  return { ...state, text, cursor };
}

function plural(count: number, one: string): string {
  return `${count.toLocaleString('en-US')} ${one}${count === 1 ? '' : 's'}`;
}

/**
 * Inserts typed or pasted text at the cursor, within the byte budget. Controls are dropped with a
 * word; typed text past the budget is left out with a word; a paste that does not fit is refused
 * whole (a message cut short without the writer noticing is worse than none).
 */
function insert(state: EditorState, raw: string, paste: boolean): EditResult {
  const { text, stripped } = cleanDraftText(raw);
  const notes: string[] = [];
  if (stripped > 0) notes.push(`${plural(stripped, 'control character')} removed`);
  const room = DRAFT_MAX_BYTES - draftBytes(state.text);
  const size = draftBytes(text);
  let added = text;
  if (size > room) {
    if (paste) {
      notes.unshift(
        `Paste not added: ${kib(size)} would not fit in the ${kib(DRAFT_MAX_BYTES)} message limit (${kib(Math.max(0, room))} left)`,
      );
      return { state, note: `${notes.join('; ')}.`, handled: true };
    }
    const parts = graphemes(text);
    let used = 0;
    let count = 0;
    for (const part of parts) {
      const bytes = draftBytes(part);
      if (used + bytes > room) break;
      used += bytes;
      count++;
    }
    added = parts.slice(0, count).join('');
    notes.unshift(
      `Message limit reached (${kib(DRAFT_MAX_BYTES)}): ${plural(parts.length - count, 'character')} not added`,
    );
  }
  const at = state.cursor;
  const next = state.text.slice(0, at) + added + state.text.slice(at);
  const moved = edited(state, next, snapToBoundary(next, at + added.length));
  return notes.length > 0
    ? { state: moved, note: `${notes.join('; ')}.`, handled: true }
    : { state: moved, handled: true };
}

function remove(state: EditorState, from: number, to: number): EditorState {
  const start = Math.max(0, Math.min(from, to));
  const end = Math.min(state.text.length, Math.max(from, to));
  if (start === end) return state;
  return edited(state, state.text.slice(0, start) + state.text.slice(end), start);
}

function lineStart(text: string, cursor: number): number {
  return cursor <= 0 ? 0 : text.lastIndexOf('\n', cursor - 1) + 1;
}

function lineEnd(text: string, cursor: number): number {
  const end = text.indexOf('\n', cursor);
  return end < 0 ? text.length : end;
}

/** The code point ending at `index`, and where it starts. */
function pointBefore(text: string, index: number): { char: string; start: number } {
  const low = text.charCodeAt(index - 1);
  const start =
    index >= 2 &&
    low >= 0xdc00 &&
    low <= 0xdfff &&
    text.charCodeAt(index - 2) >= 0xd800 &&
    text.charCodeAt(index - 2) <= 0xdbff
      ? index - 2
      : index - 1;
  return { char: text.slice(start, index), start };
}

/** A word character (letters, digits, marks, underscore), as readline's Alt+B/F see words. */
const isWordChar = (char: string): boolean => WORD.test(char);
/** Anything but white space, as Ctrl+W sees words. */
const isNotSpace = (char: string): boolean => !SPACE.test(char);

/** Start of the word before the cursor: skips what is not a word, then the word. */
function wordBack(text: string, cursor: number, inWord = isWordChar): number {
  let index = cursor;
  while (index > 0 && !inWord(pointBefore(text, index).char))
    index = pointBefore(text, index).start;
  while (index > 0 && inWord(pointBefore(text, index).char)) index = pointBefore(text, index).start;
  return graphemeStart(text, index);
}

/** End of the word after the cursor (readline's Alt+F). */
function wordForward(text: string, cursor: number): number {
  let index = cursor;
  const at = () => String.fromCodePoint(text.codePointAt(index) ?? 0);
  while (index < text.length && !isWordChar(at())) index += at().length;
  while (index < text.length && isWordChar(at())) index += at().length;
  return snapToBoundary(text, index);
}

/** ↑ or ↓: a line up or down in a multi-line draft, else through what was sent before. */
function vertical(state: EditorState, up: boolean): EditorState {
  const { text } = state;
  const start = lineStart(text, state.cursor);
  const column = state.cursor - start;
  if (up && start > 0) {
    const previous = lineStart(text, start - 1);
    return { ...state, cursor: snapToBoundary(text, Math.min(previous + column, start - 1)) };
  }
  const end = lineEnd(text, state.cursor);
  if (!up && end < text.length) {
    const next = end + 1;
    return { ...state, cursor: snapToBoundary(text, Math.min(next + column, lineEnd(text, next))) };
  }
  const past = state.history;
  if (past.length === 0) return state;
  const at = state.recall ?? { index: past.length, draft: state.text };
  const index = Math.min(past.length, Math.max(0, at.index + (up ? -1 : 1)));
  const recalled = index === past.length ? at.draft : (past[index] ?? '');
  return { ...state, text: recalled, cursor: recalled.length, recall: { index, draft: at.draft } };
}

/**
 * One keypress applied to the editor. Enter sends (a blank draft is not sent), Alt+Enter or Ctrl+J
 * add a line, ←→ move (with Ctrl or Alt, or Alt+B/F, by word), Home/End and Ctrl+A/E go to the
 * start and end of the current line, Backspace and Delete delete back and forward, Alt+Backspace
 * and Ctrl+W a word back, Alt+D a word forward, Ctrl+U and Ctrl+K to the start and end of the line,
 * ↑↓ move between lines and, past the first or last, recall what was sent.
 */
export function editKey(state: EditorState, press: Keypress): EditResult {
  if (press.kind === 'text') return insert(state, press.text, false);
  if (press.kind === 'paste') {
    if (press.cut) {
      return {
        state,
        note: `Paste not added: over 1 MiB, far beyond the ${kib(DRAFT_MAX_BYTES)} message limit.`,
        handled: true,
      };
    }
    return insert(state, press.text, true);
  }
  const { text } = state;
  const length = text.length;
  const cursor = Math.min(state.cursor, length);
  const done = (next: EditorState): EditResult => ({ state: next, handled: true });
  if (isKey(press, 'return')) {
    if (state.text.trim().length === 0) {
      return state.text.length === 0
        ? done(state)
        : { state, note: 'Not sent: the message is only white space.', handled: true };
    }
    return { state, submit: state.text, handled: true };
  }
  if (press.name === 'newline' || (press.name === 'return' && press.meta)) {
    return insert(state, '\n', false);
  }
  if (press.name === 'backspace') {
    if (press.meta || press.ctrl) return done(remove(state, wordBack(text, cursor), cursor));
    return done(remove(state, previousBoundary(text, cursor), cursor));
  }
  if (isKey(press, 'delete') || isCtrl(press, 'd')) {
    return done(remove(state, cursor, nextBoundary(text, cursor)));
  }
  if (isMeta(press, 'd')) return done(remove(state, cursor, wordForward(text, cursor)));
  if (isCtrl(press, 'w')) return done(remove(state, wordBack(text, cursor, isNotSpace), cursor));
  if (isCtrl(press, 'u')) return done(remove(state, lineStart(text, cursor), cursor));
  if (isCtrl(press, 'k')) return done(remove(state, cursor, lineEnd(text, cursor)));
  if (press.name === 'left' || isMeta(press, 'b')) {
    const word = press.ctrl || press.meta;
    return done({
      ...state,
      cursor: word ? wordBack(text, cursor) : previousBoundary(text, cursor),
    });
  }
  if (press.name === 'right' || isMeta(press, 'f')) {
    const word = press.ctrl || press.meta;
    return done({
      ...state,
      cursor: word ? wordForward(text, cursor) : nextBoundary(text, cursor),
    });
  }
  if (press.name === 'home' && press.ctrl) return done({ ...state, cursor: 0 });
  if (press.name === 'end' && press.ctrl) return done({ ...state, cursor: length });
  if (press.name === 'home' || isCtrl(press, 'a')) {
    return done({ ...state, cursor: lineStart(text, cursor) });
  }
  if (press.name === 'end' || isCtrl(press, 'e')) {
    return done({ ...state, cursor: lineEnd(text, cursor) });
  }
  if (isKey(press, 'up') || isKey(press, 'down')) return done(vertical(state, press.name === 'up'));
  return { state, handled: false };
}

/** After a draft was sent: an empty draft, and the sent text at the end of the history. */
export function afterSubmit(state: EditorState, sent: string): EditorState {
  return {
    text: '',
    cursor: 0,
    history: [...state.history, sent].slice(-HISTORY_MAX),
    recall: null,
  };
}
