import { useCallback, useRef, useState } from 'react';
import type { SearchHit, SearchOutcome } from './chat-cache.js';
import type { Keypress } from './key-decoder.js';
import { searchKey, startSearch, withOutcome, type SearchPrompt } from './search-prompt.js';

/** What the search prompt asks of the screen: to search, to open a hit, to take back a draft. */
export interface ChatSearchActions {
  readonly search: (words: string) => SearchOutcome;
  readonly open: (hit: SearchHit) => void;
  /** Text typed as the search closed (`//` writes a `/`): for the message being written. */
  readonly draft: (text: string) => void;
}

/**
 * The `/` search prompt as a hook (see searchKey). Its state lives in a ref as well, so the keys
 * of one chunk (`/`, the words, Enter) each see what the one before did, before any render.
 */
export function useChatSearch(actions: ChatSearchActions): {
  prompt: SearchPrompt | null;
  active: () => boolean;
  start: (initial: string) => void;
  handle: (press: Keypress, page: number) => boolean;
} {
  const [prompt, setPrompt] = useState<SearchPrompt | null>(null);
  const current = useRef<SearchPrompt | null>(null);
  const latest = useRef(actions);
  latest.current = actions;

  const update = useCallback((next: SearchPrompt | null) => {
    current.current = next;
    setPrompt(next);
  }, []);

  const start = useCallback(
    (initial: string) => {
      update(startSearch(initial));
    },
    [update],
  );

  const active = useCallback(() => current.current !== null, []);

  const handle = useCallback(
    (press: Keypress, page: number): boolean => {
      const now = current.current;
      if (now === null) return false;
      const { prompt: next, action } = searchKey(now, press, page);
      switch (action.kind) {
        case 'none':
          update(next);
          break;
        case 'search':
          update(withOutcome(next, action.words, latest.current.search(action.words)));
          break;
        case 'open':
          update(null);
          latest.current.open(action.hit);
          break;
        case 'leave':
          update(null);
          if (action.draft !== undefined) latest.current.draft(action.draft);
          break;
      }
      return true;
    },
    [update],
  );

  return { prompt, active, start, handle };
}
