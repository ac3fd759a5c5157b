import { useCallback, useRef, useState } from 'react';
import type { Keypress } from './key-decoder.js';
import { EMPTY_EDITOR, afterSubmit, editKey, type EditorState } from './line-editor.js';

export type { EditorState } from './line-editor.js';

/**
 * The line editor (see editKey) as a hook. State lives in a ref as well, so several keys read in
 * one chunk each see what the one before did. `initial` and `onChange` let the app keep a draft
 * and its history per conversation; `note` is the editor's last word for the status line.
 */
export function useLineEditor(
  onSubmit: (text: string) => boolean,
  options: { initial?: EditorState; onChange?: (state: EditorState) => void } = {},
): {
  state: EditorState;
  note: string | null;
  handle: (press: Keypress) => boolean;
  clearNote: () => void;
  /** The state as the last key left it (a later key of the same chunk sees it before a render). */
  read: () => EditorState;
  /** Puts `text` in the draft, the cursor at its end (an edit starts from the message's text). */
  set: (text: string) => void;
} {
  const [state, setState] = useState<EditorState>(options.initial ?? EMPTY_EDITOR);
  const [note, setNote] = useState<string | null>(null);
  const current = useRef(state);
  const onChange = useRef(options.onChange);
  onChange.current = options.onChange;

  const update = useCallback((next: EditorState) => {
    if (next === current.current) return;
    current.current = next;
    setState(next);
    onChange.current?.(next);
  }, []);

  const handle = useCallback(
    (press: Keypress): boolean => {
      const result = editKey(current.current, press);
      if (!result.handled) return false;
      update(result.state);
      setNote(result.note ?? null);
      if (result.submit !== undefined && onSubmit(result.submit)) {
        update(afterSubmit(current.current, result.submit));
      }
      return true;
    },
    [onSubmit, update],
  );

  const clearNote = useCallback(() => {
    setNote(null);
  }, []);

  const read = useCallback(() => current.current, []);
  const set = useCallback(
    (text: string) => {
      update({ ...current.current, text, cursor: text.length, recall: null });
    },
    [update],
  );

  return { state, note, handle, clearNote, read, set };
}
