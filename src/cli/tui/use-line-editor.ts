import { useCallback, useRef, useState } from 'react';
import type { Key } from 'ink';
import { graphemes } from './graphemes.js';

/** The text being written and where the cursor is (an index into its graphemes). */
export interface EditorState {
  readonly text: string;
  readonly cursor: number;
}

/** The longest message the editor accepts, in graphemes (the relay's packet limit is far above). */
const MAX_LENGTH = 4_000;
/** How many sent lines up/down can recall. */
const HISTORY_MAX = 100;

const EMPTY: EditorState = { text: '', cursor: 0 };

function insert(state: EditorState, typed: string): EditorState {
  const chars = graphemes(state.text);
  const room = MAX_LENGTH - chars.length;
  const added = graphemes(typed.replace(/\r\n?/g, '\n')).slice(0, Math.max(0, room));
  chars.splice(state.cursor, 0, ...added);
  return { text: chars.join(''), cursor: state.cursor + added.length };
}

function removeBefore(state: EditorState, count: number): EditorState {
  if (state.cursor === 0) return state;
  const chars = graphemes(state.text);
  const from = Math.max(0, state.cursor - count);
  chars.splice(from, state.cursor - from);
  return { text: chars.join(''), cursor: from };
}

function wordStart(state: EditorState): number {
  const chars = graphemes(state.text);
  let index = state.cursor;
  while (index > 0 && /\s/.test(chars[index - 1] ?? '')) index--;
  while (index > 0 && !/\s/.test(chars[index - 1] ?? '')) index--;
  return index;
}

/**
 * A message editor for Ink: Enter submits, Alt+Enter or Ctrl+J inserts a newline, up/down recall
 * what was sent before (like a shell), left/right/Home/End/Ctrl+A/Ctrl+E move, Backspace, Ctrl+D,
 * Ctrl+W and Ctrl+U delete. Pastes arrive whole and keep their newlines.
 */
export function useLineEditor(onSubmit: (text: string) => boolean): {
  state: EditorState;
  handle: (input: string, key: Key) => boolean;
} {
  const [state, setState] = useState<EditorState>(EMPTY);
  const current = useRef(state);
  const history = useRef<string[]>([]);
  const recall = useRef<{ index: number; draft: string } | null>(null);

  const update = useCallback((next: EditorState) => {
    current.current = next;
    setState(next);
  }, []);

  const handle = useCallback(
    (input: string, key: Key): boolean => {
      const now = current.current;
      const length = graphemes(now.text).length;
      if (key.return && key.meta) {
        update(insert(now, '\n'));
        return true;
      }
      const submit = (draft: EditorState) => {
        update(draft);
        if (draft.text.trim().length === 0) return true;
        if (onSubmit(draft.text)) {
          history.current = [...history.current, draft.text].slice(-HISTORY_MAX);
          recall.current = null;
          update(EMPTY);
        }
        return true;
      };
      if (key.return) return submit(now);
      if (input.length > 1 && input.endsWith('\r') && !key.ctrl && !key.meta) {
        return submit(insert(now, input.slice(0, -1)));
      }
      if (input === '\n') {
        update(insert(now, '\n'));
        return true;
      }
      if (key.upArrow || key.downArrow) {
        const past = history.current;
        if (past.length === 0) return true;
        const at = recall.current ?? { index: past.length, draft: now.text };
        const index = Math.min(past.length, Math.max(0, at.index + (key.upArrow ? -1 : 1)));
        recall.current = { index, draft: at.draft };
        const text = index === past.length ? at.draft : (past[index] ?? '');
        update({ text, cursor: graphemes(text).length });
        return true;
      }
      if (key.backspace || key.delete) {
        update(removeBefore(now, 1));
        return true;
      }
      if (key.leftArrow) {
        update({ ...now, cursor: Math.max(0, now.cursor - 1) });
        return true;
      }
      if (key.rightArrow) {
        update({ ...now, cursor: Math.min(length, now.cursor + 1) });
        return true;
      }
      if (key.home || (key.ctrl && input === 'a')) {
        update({ ...now, cursor: 0 });
        return true;
      }
      if (key.end || (key.ctrl && input === 'e')) {
        update({ ...now, cursor: length });
        return true;
      }
      if (key.ctrl && input === 'd') {
        if (now.cursor < length) update(removeBefore({ ...now, cursor: now.cursor + 1 }, 1));
        return true;
      }
      if (key.ctrl && input === 'w') {
        update(removeBefore(now, now.cursor - wordStart(now)));
        return true;
      }
      if (key.ctrl && input === 'u') {
        update(removeBefore(now, now.cursor));
        return true;
      }
      if (key.ctrl || key.meta || key.escape || key.tab || input.length === 0) return false;
      update(insert(now, input));
      return true;
    },
    [onSubmit, update],
  );

  return { state, handle };
}
