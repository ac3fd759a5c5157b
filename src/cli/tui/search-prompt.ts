// The `/` search prompt of a conversation, as pure state: the words typed, the results, the choice.

import type { SearchHit, SearchOutcome } from './chat-cache.js';
import { isKey, type Keypress } from './key-decoder.js';
import { EMPTY_EDITOR, editKey, type EditorState } from './line-editor.js';

/** The search prompt: what is typed, the outcome of the last search and for which words, the chosen hit. */
export interface SearchPrompt {
  readonly editor: EditorState;
  readonly outcome: SearchOutcome | null;
  /** The words `outcome` is for: Enter opens the chosen hit only while they are still the ones typed. */
  readonly searched: string | null;
  readonly selected: number;
  /** A word for the prompt's line (a key it does not use), or null. */
  readonly note: string | null;
}

/** What a key asks of the screen besides the new prompt. */
export type SearchAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'search'; readonly words: string }
  | { readonly kind: 'open'; readonly hit: SearchHit }
  /** Leaves the search; `draft` goes into the message being written (`//` writes a `/`). */
  | { readonly kind: 'leave'; readonly draft?: string };

/** The prompt as `/` opens it, with what was typed after the `/` in the same keystroke. */
export function startSearch(initial = ''): SearchPrompt {
  const text = oneLineText(initial);
  return {
    editor: { ...EMPTY_EDITOR, text, cursor: text.length },
    outcome: null,
    searched: null,
    selected: 0,
    note: null,
  };
}

/** The prompt once the search for `words` gave `outcome`: the newest hit chosen. */
export function withOutcome(
  prompt: SearchPrompt,
  words: string,
  outcome: SearchOutcome,
): SearchPrompt {
  return { ...prompt, outcome, searched: words, selected: 0, note: null };
}

/** The hits of the prompt's last search (none before one, or after an error). */
export function hitsOf(prompt: SearchPrompt): readonly SearchHit[] {
  return prompt.outcome !== null && 'hits' in prompt.outcome ? prompt.outcome.hits : [];
}

/** Line breaks become spaces: the words of a search are one line. */
function oneLineText(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

function moved(prompt: SearchPrompt, by: number): SearchPrompt {
  const count = hitsOf(prompt).length;
  if (count === 0) return prompt;
  return { ...prompt, selected: Math.max(0, Math.min(count - 1, prompt.selected + by)) };
}

const NONE: SearchAction = { kind: 'none' };

/**
 * One keypress in the search prompt. Enter searches the words typed, or, once they were searched,
 * opens the chosen hit; ↑↓ (PageUp/PageDown by `page`) choose; Esc leaves; `/` on an empty prompt
 * leaves with a `/` in the draft. Every other key edits the words (on one line) or is swallowed,
 * so no key meant for the search reaches the conversation behind it.
 */
export function searchKey(
  prompt: SearchPrompt,
  press: Keypress,
  page: number,
): { prompt: SearchPrompt; action: SearchAction } {
  const same = (action: SearchAction = NONE) => ({ prompt, action });
  if (isKey(press, 'escape')) return same({ kind: 'leave' });
  if (press.kind === 'text' && prompt.editor.text === '' && press.text.startsWith('/'))
    return same({ kind: 'leave', draft: press.text });
  if (isKey(press, 'return')) {
    const words = prompt.editor.text.trim();
    const hits = hitsOf(prompt);
    const hit = hits[prompt.selected];
    if (hit !== undefined && prompt.searched === words) return same({ kind: 'open', hit });
    if (words === '')
      return { prompt: { ...prompt, note: 'Type the words to search for.' }, action: NONE };
    return { prompt: { ...prompt, note: null }, action: { kind: 'search', words } };
  }
  if (press.kind === 'key' && !press.ctrl && !press.meta) {
    if (press.name === 'up' || press.name === 'down')
      return { prompt: moved(prompt, press.name === 'up' ? -1 : 1), action: NONE };
    if (press.name === 'pageup' || press.name === 'pagedown')
      return { prompt: moved(prompt, press.name === 'pageup' ? -page : page), action: NONE };
    if (press.name === 'newline') return same();
  }
  if (press.kind === 'key' && press.name === 'return') return same();
  const input: Keypress =
    press.kind === 'key' ? press : { ...press, text: oneLineText(press.text) };
  const result = editKey(prompt.editor, input);
  if (!result.handled) return same();
  return { prompt: { ...prompt, editor: result.state, note: result.note ?? null }, action: NONE };
}
