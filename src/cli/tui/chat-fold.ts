// A conversation as the screen shows it: edits and deletes applied, replies with their quote.

import {
  foldConversation,
  pairConversation,
  type Body,
  type MessageOrigin,
} from '../../core/index.js';
import type { ChatMessage } from './chat-state.js';

/** What a reply shows of the message it quotes. */
export type ShownQuote =
  | { readonly state: 'shown'; readonly mine: boolean; readonly excerpt: string }
  | { readonly state: 'deleted' }
  | { readonly state: 'missing' };

/** A line of the conversation view: a message with its changes applied, its quote, or a warning. */
export interface ShownMessage extends ChatMessage {
  readonly quote?: ShownQuote;
}

/** The body a conversation line stands for (its text, reply, edit or delete). */
function bodyOf(message: ChatMessage): Body {
  const text = message.text ?? '';
  if (message.edits !== undefined) return { v: 1, type: 'edit', target: message.edits, text };
  if (message.deletes !== undefined) return { v: 1, type: 'delete', target: message.deletes };
  if (message.replyTo !== undefined) return { v: 1, type: 'reply', target: message.replyTo, text };
  return { v: 1, type: 'text', text };
}

/**
 * Folds the lines of my conversation with `peer` by the rules of docs/protocol.md 8.1
 * (foldConversation): an accepted edit gives its target the new text and `(edited)`, a delete
 * leaves `message deleted`, neither is a line of its own; a change the rules refuse (another
 * sender's, say) is a warning where it came; one whose target is not loaded waits unseen. A reply
 * carries an excerpt of what it quotes.
 */
export function foldChat(
  messages: readonly ChatMessage[],
  me: string,
  peer: string,
): ShownMessage[] {
  const conversation = pairConversation(me, peer);
  const origins = new Map<ChatMessage, MessageOrigin>();
  for (const message of messages) {
    if (message.warning !== undefined) continue;
    origins.set(message, {
      id: message.id,
      from: message.direction === 'outgoing' ? me : peer,
      conversation,
      time: message.time,
      body: bodyOf(message),
    });
  }
  const view = foldConversation([...origins.values()]);
  const refused = new Map<MessageOrigin, string>(
    view.refused.map(({ change, error }) => [change, error.message]),
  );
  const folded = new Map(
    [...origins.entries()]
      .filter(([message]) => message.edits === undefined && message.deletes === undefined)
      .map(([message], index) => [message, view.messages[index]] as const),
  );
  const shown: ShownMessage[] = [];
  for (const message of messages) {
    const origin = origins.get(message);
    if (origin === undefined) {
      shown.push(message);
      continue;
    }
    const refusal = refused.get(origin);
    if (refusal !== undefined) {
      shown.push({
        id: `refused:${message.id}`,
        ...(message.seq === undefined ? {} : { seq: message.seq }),
        time: message.time,
        direction: message.direction,
        warning: refusal,
      });
      continue;
    }
    const result = folded.get(message);
    if (result === undefined) continue;
    const deleted = message.deleted === true || result.deleted;
    const quote: ShownQuote | undefined =
      result.quote === null
        ? undefined
        : result.quote.state === 'shown'
          ? { state: 'shown', mine: result.quote.from === me, excerpt: result.quote.excerpt }
          : { state: result.quote.state };
    shown.push({
      ...message,
      text: deleted ? '' : result.text,
      ...(message.edited === true || result.edited ? { edited: true } : {}),
      ...(deleted ? { deleted: true } : {}),
      ...(quote === undefined ? {} : { quote }),
    });
  }
  return shown;
}
