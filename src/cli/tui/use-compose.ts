import { useCallback, useRef, useState } from 'react';
import type { ShownMessage } from './chat-fold.js';
import {
  lastEditable,
  moveSelection,
  startEdit,
  startReply,
  type ComposeMode,
} from './compose-mode.js';
import { isKey, type Keypress } from './key-decoder.js';

/** What the compose keys work on: the messages shown and the draft, read at key time. */
export interface ComposeParts {
  readonly messages: () => readonly ShownMessage[];
  readonly draft: () => string;
  readonly setDraft: (text: string) => void;
  /** Scrolls the list to a message (the one selected). */
  readonly scrollTo: (id: string) => void;
}

function plain(press: Keypress, name: 'up' | 'down' | 'tab' | 'escape' | 'return'): boolean {
  return isKey(press, name) && press.kind === 'key' && !press.shift;
}

/**
 * Edits and replies in a conversation. ↑ on an empty draft edits my last message (Enter sends
 * the edit, Esc cancels and gives the draft back); Tab selects a message (↑↓ choose, r or Enter
 * reply to it, e edit it if it is mine, Esc or Tab back). State lives in refs too, so the keys of
 * one chunk each see what the one before did.
 */
export function useCompose(parts: ComposeParts): {
  mode: ComposeMode | null;
  selected: string | null;
  /** The mode as the last key left it (for Enter in the same chunk). */
  modeNow: () => ComposeMode | null;
  /** The draft was sent: the mode is over. */
  sent: () => void;
  handle: (press: Keypress) => boolean;
} {
  const [mode, setModeState] = useState<ComposeMode | null>(null);
  const [selected, setSelectedState] = useState<string | null>(null);
  const modeRef = useRef<ComposeMode | null>(null);
  const selectedRef = useRef<string | null>(null);
  const latest = useRef(parts);
  latest.current = parts;
  const setMode = useCallback((next: ComposeMode | null) => {
    modeRef.current = next;
    setModeState(next);
  }, []);
  const select = useCallback((next: string | null) => {
    selectedRef.current = next;
    setSelectedState(next);
    if (next !== null) latest.current.scrollTo(next);
  }, []);

  const edit = useCallback(
    (message: ShownMessage) => {
      const { draft, setDraft } = latest.current;
      const saved = modeRef.current?.kind === 'edit' ? modeRef.current.saved : draft();
      setMode(startEdit(message, saved));
      setDraft(message.text ?? '');
    },
    [setMode],
  );

  const handle = useCallback(
    (press: Keypress): boolean => {
      const { messages, draft, setDraft } = latest.current;
      const current = selectedRef.current;
      if (current !== null) {
        if (plain(press, 'up') || plain(press, 'down')) {
          select(moveSelection(messages(), current, plain(press, 'up') ? -1 : 1));
          return true;
        }
        if (plain(press, 'escape') || plain(press, 'tab')) {
          select(null);
          return true;
        }
        const message = messages().find((m) => m.id === current);
        const letter = press.kind === 'text' ? press.text : '';
        if (message !== undefined && (plain(press, 'return') || letter === 'r')) {
          select(null);
          setMode(startReply(message));
        } else if (message?.direction === 'outgoing' && letter === 'e') {
          select(null);
          edit(message);
        }
        // Every other key is swallowed while choosing: nothing is typed into the draft by mistake.
        return true;
      }
      if (plain(press, 'tab')) {
        select(moveSelection(messages(), null, 0));
        return true;
      }
      if (plain(press, 'up') && draft() === '' && modeRef.current === null) {
        const last = lastEditable(messages());
        if (last === undefined) return false;
        edit(last);
        return true;
      }
      if (plain(press, 'escape') && modeRef.current !== null) {
        const was = modeRef.current;
        setMode(null);
        if (was.kind === 'edit') setDraft(was.saved);
        return true;
      }
      return false;
    },
    [edit, select, setMode],
  );

  const modeNow = useCallback(() => modeRef.current, []);
  const sent = useCallback(() => {
    setMode(null);
  }, [setMode]);

  return { mode, selected, modeNow, sent, handle };
}
