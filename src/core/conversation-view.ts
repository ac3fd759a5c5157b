// A conversation's messages with every edit, delete and reply resolved (docs/protocol.md 8.1).

import { MetaChatError } from './errors.js';
import {
  applyChange,
  checkChange,
  isChangeBody,
  isShownBody,
  quoteOf,
  viewOf,
  type ChangeMessage,
  type MessageOrigin,
  type MessageView,
  type ReplyQuote,
  type ShownMessage,
} from './message-edits.js';

/** A shown message with its changes applied, and what it quotes if it is a reply. */
export interface FoldedMessage extends MessageView {
  readonly quote: ReplyQuote | null;
}

/** An edit or delete that the rules refused, with the typed reason. */
export interface RefusedChange {
  readonly change: ChangeMessage;
  readonly error: MetaChatError;
}

/** The result of folding a list of messages. */
export interface ConversationView {
  /** The shown messages, in the order given, each with its accepted changes applied. */
  readonly messages: readonly FoldedMessage[];
  /** Changes refused (another sender, another conversation, not a text or reply). */
  readonly refused: readonly RefusedChange[];
  /** Changes whose target is not among the messages given (it may come with an older page). */
  readonly pending: readonly ChangeMessage[];
}

/**
 * Applies every edit and delete among `messages` to their targets, in any order, and resolves
 * replies. The messages may span conversations: a change whose target is in another one is
 * refused. A packet id served twice (a hostile relay) counts as the same conversation's message
 * only for a candidate of the same conversation and sender.
 */
export function foldConversation(messages: readonly MessageOrigin[]): ConversationView {
  const byId = new Map<string, MessageOrigin[]>();
  for (const message of messages) {
    const list = byId.get(message.id);
    if (list === undefined) byId.set(message.id, [message]);
    else list.push(message);
  }
  const views = new Map<MessageOrigin, MessageView>();
  for (const message of messages) {
    if (isShownBody(message.body)) views.set(message, viewOf(message as ShownMessage));
  }
  const refused: RefusedChange[] = [];
  const pending: ChangeMessage[] = [];
  for (const message of messages) {
    if (!isChangeBody(message.body)) continue;
    const change = message as ChangeMessage;
    const candidates = byId.get(change.body.target) ?? [];
    const target =
      candidates.find((c) => c.conversation === change.conversation && c.from === change.from) ??
      candidates[0];
    if (target === undefined) {
      pending.push(change);
      continue;
    }
    try {
      checkChange(change, target);
    } catch (error) {
      if (!(error instanceof MetaChatError)) throw error;
      refused.push({ change, error });
      continue;
    }
    // Every copy of the target (a packet a hostile relay served twice) takes the change, so a
    // delete or an edit is never undone by a second copy of the original.
    for (const copy of candidates) {
      if (copy.conversation !== target.conversation || copy.from !== target.from) continue;
      const view = views.get(copy);
      if (view !== undefined) views.set(copy, applyChange(view, change));
    }
  }
  const folded: FoldedMessage[] = [];
  for (const [message, view] of views) {
    const quoted =
      message.body.type === 'reply'
        ? findQuoted(byId.get(message.body.target) ?? [], message, views)
        : undefined;
    folded.push({ ...view, quote: quoteOf(message, quoted) });
  }
  return { messages: folded, refused, pending };
}

/** The quoted message's view: one of the same conversation, or (to say "missing") any. */
function findQuoted(
  candidates: readonly MessageOrigin[],
  reply: MessageOrigin,
  views: ReadonlyMap<MessageOrigin, MessageView>,
): MessageView | undefined {
  const same = candidates.find((c) => c.conversation === reply.conversation && views.has(c));
  return same === undefined ? undefined : views.get(same);
}
