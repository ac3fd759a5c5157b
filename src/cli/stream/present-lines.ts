// A page of a conversation as shown: edits and deletes applied, refused ones in their place, replies quoted.

import {
  foldConversation,
  pairConversation,
  quoteOf,
  type Body,
  type FoldedMessage,
  type MessageOrigin,
  type MessageView,
  type ReplyQuote,
} from '../../core/index.js';
import type { HistoryMessage, HistoryStore } from '../history/history-store.js';
import { isWarning, type MessageLine } from './messages.js';

type Message = Exclude<MessageLine, { warning: string }>;

/** A message line as shown: its latest text, whether it was edited or deleted, what it quotes. */
export type ShownLine = Message & {
  readonly edited?: boolean;
  readonly editedAt?: number;
  readonly deleted?: boolean;
  readonly deletedAt?: number;
  readonly quote?: ReplyQuote;
};

/** The body a line was opened from. */
function bodyOf(line: Message): Body {
  if (line.edits !== undefined) return { v: 1, type: 'edit', target: line.edits, text: line.text };
  if (line.deletes !== undefined) return { v: 1, type: 'delete', target: line.deletes };
  if (line.replyTo !== undefined)
    return { v: 1, type: 'reply', target: line.replyTo, text: line.text };
  return { v: 1, type: 'text', text: line.text };
}

function originOf(line: Message): MessageOrigin {
  return {
    id: line.id,
    from: line.from,
    conversation: pairConversation(line.from, line.to),
    time: line.time,
    body: bodyOf(line),
  };
}

function viewOfHeld(held: HistoryMessage): MessageView {
  return {
    id: held.id,
    from: held.from,
    conversation: pairConversation(held.from, held.to),
    time: held.time,
    text: held.text,
    replyTo: held.replyTo ?? null,
    edited: held.edited === true,
    editedAt: held.editedAt ?? null,
    editId: null,
    deleted: held.deleted === true,
    deletedAt: held.deletedAt ?? null,
  };
}

/** The fields a shown line adds to its message: only those that apply. */
function shownFields(view: MessageView | FoldedMessage, quote: ReplyQuote | null) {
  return {
    text: view.text,
    ...(view.edited ? { edited: true, editedAt: view.editedAt ?? 0 } : {}),
    ...(view.deleted ? { deleted: true, deletedAt: view.deletedAt ?? 0 } : {}),
    ...(quote === null ? {} : { quote }),
  };
}

/**
 * The lines of one conversation page as shown. Each message takes its latest state: from the
 * local history when it holds the message (it knows changes outside this page), else from the
 * page itself. An edit or delete is not a line of its own; a refused one is a warning line with
 * its code (EDIT_FORBIDDEN, ...). A reply quotes its target from the page or the history.
 */
export function presentLines(
  lines: readonly MessageLine[],
  peer: string,
  history?: HistoryStore,
): MessageLine[] {
  const messages = lines.filter((line): line is Message => !isWarning(line));
  const folded = foldConversation(messages.map(originOf));
  const views = new Map<string, FoldedMessage>();
  for (const view of folded.messages) views.set(`${view.from}/${view.id}`, view);
  const refused = new Map(folded.refused.map((r) => [`${r.change.from}/${r.change.id}`, r.error]));
  const out: MessageLine[] = [];
  for (const line of lines) {
    if (isWarning(line)) {
      out.push(line);
      continue;
    }
    const key = `${line.from}/${line.id}`;
    if (line.edits !== undefined || line.deletes !== undefined) {
      const error = refused.get(key);
      const state = history?.changeState(line.from, line.id);
      const code = error?.code ?? (state === 'applied' || state === 'pending' ? undefined : state);
      if (code !== undefined)
        out.push({
          id: line.id,
          seq: line.seq,
          code,
          warning:
            error?.message ??
            `An ${line.edits === undefined ? 'delete' : 'edit'} of message ${line.edits ?? line.deletes ?? ''} was refused (${code}); nothing changed.`,
        });
      continue;
    }
    const held = history?.find(peer, line.id);
    const view: MessageView | undefined =
      held !== undefined && held.from === line.from ? viewOfHeld(held) : views.get(key);
    if (view === undefined) continue;
    let quote = views.get(key)?.quote ?? null;
    if (line.replyTo !== undefined && (quote === null || quote.state === 'missing')) {
      const target = history?.find(peer, line.replyTo);
      quote = quoteOf(originOf(line), target === undefined ? undefined : viewOfHeld(target));
    }
    out.push({ ...line, ...shownFields(view, quote) } satisfies ShownLine);
  }
  return out;
}

/** The cached page of the local history as shown: replies quoted from the history. */
export function presentHeld(
  held: readonly HistoryMessage[],
  peer: string,
  history: HistoryStore,
): ShownLine[] {
  return held.map((message) => {
    const { edited: _e, editedAt: _ea, deleted: _d, deletedAt: _da, ...line } = message;
    const view = viewOfHeld(message);
    const quote =
      message.replyTo === undefined
        ? null
        : quoteOf(originOf(line), lookup(history, peer, message.replyTo));
    return { ...line, ...shownFields(view, quote) };
  });
}

function lookup(history: HistoryStore, peer: string, id: string): MessageView | undefined {
  const target = history.find(peer, id);
  return target === undefined ? undefined : viewOfHeld(target);
}
