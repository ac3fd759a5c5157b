// The chat screen's side of the local history: conversations opened from it, searched in it.

import { UsageError } from '../cli-errors.js';
import { HistoryCorruptError, isSqliteRefusal } from '../history/history-errors.js';
import type { HistoryMessage } from '../history/history-store.js';
import { SearchTooLongError } from '../history/search-query.js';
import type { Session } from '../relay/session.js';
import type { ChatMessage } from './chat-state.js';

/** Messages read from the local history when a conversation opens (and per PageUp offline). */
export const CACHE_PAGE = 50;
/** Most messages after a search hit opened with it (its newer ones, up to the newest). */
export const AROUND_AFTER_MAX = 2_000;
/** Most search results the chat screen lists. */
export const SEARCH_SHOWN = 100;

/** One search result as the chat screen lists it. */
export interface SearchHit {
  readonly peer: string;
  /** The name the screen shows for the peer. */
  readonly name: string;
  readonly id: string;
  readonly seq: number;
  readonly time: number;
  readonly text: string;
  readonly direction: 'incoming' | 'outgoing';
}

/** What a search in the chat screen gave: hits, newest first, or why there are none to give. */
export type SearchOutcome =
  { readonly hits: readonly SearchHit[] } | { readonly error: string; readonly code: string };

/** A read of the history that SQLite refused (damaged, busy past its wait, I/O): the relay still serves. */
function isReadFailure(error: unknown): error is Error {
  if (error instanceof HistoryCorruptError) return true;
  return isSqliteRefusal(error);
}

/** A page of a conversation from the local history, and whether it holds older ones. */
export interface CachedPage {
  readonly messages: ChatMessage[];
  readonly more: boolean;
}

/** A message the history holds, as the conversation view shows it (mine: stored, "sent"). */
export function cachedMessage(line: HistoryMessage): ChatMessage {
  // A history that folds edits and deletes in says so on each message (and what it replies to).
  const folded = line as HistoryMessage & {
    readonly replyTo?: string;
    readonly edited?: boolean;
    readonly deleted?: boolean;
  };
  return {
    id: line.id,
    seq: line.seq,
    time: line.time,
    direction: line.direction,
    text: line.text,
    ...(folded.replyTo === undefined ? {} : { replyTo: folded.replyTo }),
    ...(folded.edited === true ? { edited: true } : {}),
    ...(folded.deleted === true ? { deleted: true } : {}),
    ...(line.direction === 'outgoing' ? { status: 'sent' as const } : {}),
  };
}

/**
 * Reads conversations and search results from the session's local history, if one is open: a
 * damaged or missing history gives nothing (the relay still serves everything).
 */
export class ChatCache {
  /**
   * `nameOf` names a result's peer as the screen does; `onFailure` hears of a read the history refused (said in the status line); the screen goes on
   * with what the relay serves.
   */
  constructor(
    private readonly session: Session,
    private readonly onFailure: (message: string) => void,
    private readonly nameOf: (peer: string) => string,
  ) {}

  /** Whether this device's history is open. */
  get available(): boolean {
    return this.session.history !== undefined;
  }

  private read<T>(run: () => T, none: T): T {
    try {
      return run();
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      this.onFailure(
        `The local history could not be read (${error.message}); the relay still serves every message.`,
      );
      return none;
    }
  }

  /** The last page before `before` (a seq; the newest page without it). */
  page(peer: string, before?: number): CachedPage {
    const history = this.session.history;
    const none: CachedPage = { messages: [], more: false };
    if (history === undefined) return none;
    return this.read(() => {
      const { messages, more } = history.page(peer, CACHE_PAGE, before);
      return { messages: messages.map(cachedMessage), more };
    }, none);
  }

  /**
   * The conversation around packet `id`: a page up to it and what follows it (at most
   * AROUND_AFTER_MAX), so the view opens there with the newer messages below it; undefined when
   * the history does not hold it.
   */
  around(peer: string, id: string): (CachedPage & { readonly hit: ChatMessage }) | undefined {
    const history = this.session.history;
    if (history === undefined) return undefined;
    return this.read(() => {
      const hit = history.find(peer, id);
      if (hit === undefined) return undefined;
      const before = history.page(peer, CACHE_PAGE, hit.seq);
      const after = history.after(peer, hit.seq, AROUND_AFTER_MAX);
      return {
        messages: [...before.messages, hit, ...after].map(cachedMessage),
        more: before.more,
        hit: cachedMessage(hit),
      };
    }, undefined);
  }

  /**
   * Messages holding every word, newest first, with the rules of `metachat search` (ftsQuery: only
   * ever words, never FTS5 syntax); a search too long, an empty one or a history that cannot be
   * read is an outcome with its code, never an exception.
   */
  search(words: string): SearchOutcome {
    const history = this.session.history;
    if (history === undefined)
      return {
        error: 'This device keeps no local history now (it did not open): nothing to search.',
        code: 'HISTORY_UNAVAILABLE',
      };
    try {
      const hits = history.search(words, { limit: SEARCH_SHOWN }).map((hit) => ({
        peer: hit.peer,
        name: this.nameOf(hit.peer),
        id: hit.id,
        seq: hit.seq,
        time: hit.time,
        text: hit.text,
        direction: hit.direction,
      }));
      return { hits };
    } catch (error) {
      if (error instanceof SearchTooLongError) return { error: error.message, code: error.code };
      if (error instanceof UsageError) return { error: error.message, code: 'SEARCH_EMPTY' };
      if (!isReadFailure(error)) throw error;
      const code = (error as { code?: unknown }).code;
      return {
        error: `The local history could not be read: ${error.message}`,
        code: typeof code === 'string' ? code : 'HISTORY_CORRUPT',
      };
    }
  }
}
