// The rules of edits, deletes and replies (docs/protocol.md 8.1): pure, the same for every reader.

import type { Body } from './body.js';
import {
  EditConversationMismatchError,
  EditForbiddenError,
  EditTargetInvalidError,
} from './errors.js';

/** An edit or a delete: a body that changes an earlier message instead of being shown. */
export type ChangeBody = Extract<Body, { type: 'edit' | 'delete' }>;
/** A body shown as a message: a text, or a reply (a text that quotes another message). */
export type ShownBody = Extract<Body, { type: 'text' | 'reply' }>;

/** The conversation of a 1:1 packet: the pair of identities, whichever way it was sent. */
export function pairConversation(a: string, b: string): string {
  return a < b ? `pair:${a}:${b}` : `pair:${b}:${a}`;
}

/** The conversation of a group message: the group. */
export function groupConversation(group: string): string {
  return `group:${group}`;
}

/** A verified, opened message with what the rules read: packet id, signed sender, conversation. */
export interface MessageOrigin {
  readonly id: string;
  readonly from: string;
  readonly conversation: string;
  readonly time: number;
  readonly body: Body;
}

/** A message whose body is an edit or a delete. */
export type ChangeMessage = MessageOrigin & { readonly body: ChangeBody };
/** A message whose body is shown (text or reply). */
export type ShownMessage = MessageOrigin & { readonly body: ShownBody };

/** True for an edit or a delete. */
export function isChangeBody(body: Body): body is ChangeBody {
  return body.type === 'edit' || body.type === 'delete';
}

/** True for a body that is shown as a message (text or reply). */
export function isShownBody(body: Body): body is ShownBody {
  return body.type === 'text' || body.type === 'reply';
}

/**
 * The rule: `change` may apply to `target` only if both are in the same conversation, the same
 * identity signed both, and the target is an original message (a text or a reply, never a hello,
 * an edit or a delete: an edit of an edited message names the original). Throws the typed reason.
 */
export function checkChange(change: ChangeMessage, target: MessageOrigin): void {
  if (change.body.target !== target.id) {
    throw new TypeError('checkChange: the target is not the message the change names.');
  }
  const what = change.body.type === 'edit' ? 'An edit' : 'A delete';
  if (target.conversation !== change.conversation) {
    throw new EditConversationMismatchError(
      `${what} names message ${target.id} of another conversation; it is refused and nothing changes.`,
    );
  }
  if (target.from !== change.from) {
    throw new EditForbiddenError(
      `${what} of message ${target.id} comes from someone who did not send it; only its sender may change it. Nothing changes.`,
    );
  }
  if (!isShownBody(target.body)) {
    throw new EditTargetInvalidError(
      `${what} names ${target.id}, which is a ${target.body.type}, not a text or a reply; nothing changes.`,
    );
  }
}

/** A message as shown once every accepted edit and delete is applied. */
export interface MessageView {
  readonly id: string;
  readonly from: string;
  readonly conversation: string;
  readonly time: number;
  /** The latest text; empty once deleted. */
  readonly text: string;
  /** The packet id this message quotes, for a reply. */
  readonly replyTo: string | null;
  readonly edited: boolean;
  /** The sender's time of the edit shown. */
  readonly editedAt: number | null;
  /** The packet id of the edit shown. */
  readonly editId: string | null;
  readonly deleted: boolean;
  readonly deletedAt: number | null;
}

/** The view of an original message, before any change. */
export function viewOf(message: ShownMessage): MessageView {
  return {
    id: message.id,
    from: message.from,
    conversation: message.conversation,
    time: message.time,
    text: message.body.text,
    replyTo: message.body.type === 'reply' ? message.body.target : null,
    edited: false,
    editedAt: null,
    editId: null,
    deleted: false,
    deletedAt: null,
  };
}

/**
 * Applies a change that `checkChange` accepted, in any order: a delete is final (an edit of a
 * deleted message is ignored, whenever it arrives), and of several edits the one latest by the
 * sender's time (then packet id) is shown. Returns `view` itself when the change is ignored.
 */
export function applyChange(view: MessageView, change: ChangeMessage): MessageView {
  if (view.deleted) return view;
  if (change.body.type === 'delete') {
    return { ...view, text: '', deleted: true, deletedAt: change.time };
  }
  if (view.editId === change.id) return view;
  const later =
    view.editedAt === null ||
    change.time > view.editedAt ||
    (change.time === view.editedAt && change.id > (view.editId ?? ''));
  if (!later) return view;
  return {
    ...view,
    text: change.body.text,
    edited: true,
    editedAt: change.time,
    editId: change.id,
  };
}

/** Longest excerpt of a quoted message, in code points. */
export const REPLY_EXCERPT_CHARS = 80;

/** What a reply shows of the message it quotes: an excerpt, that it was deleted, or that it is not here. */
export type ReplyQuote =
  | {
      readonly state: 'shown';
      readonly id: string;
      readonly from: string;
      readonly excerpt: string;
    }
  | { readonly state: 'deleted'; readonly id: string }
  | { readonly state: 'missing'; readonly id: string };

/** The first line of a text, cut to REPLY_EXCERPT_CHARS code points (with … when cut). */
export function excerptOf(text: string): string {
  const line = text.split('\n', 1)[0]?.replace(/\s+/g, ' ').trim() ?? '';
  const points = Array.from(line);
  return points.length > REPLY_EXCERPT_CHARS
    ? `${points.slice(0, REPLY_EXCERPT_CHARS - 1).join('')}…`
    : line;
}

/**
 * What `reply` shows of its target: a target this reader does not hold, or one of another
 * conversation, is "missing" (a reply never shows a quote from elsewhere).
 */
export function quoteOf(reply: MessageOrigin, target: MessageView | undefined): ReplyQuote | null {
  if (reply.body.type !== 'reply') return null;
  const id = reply.body.target;
  if (target === undefined || target.id !== id || target.conversation !== reply.conversation) {
    return { state: 'missing', id };
  }
  if (target.deleted) return { state: 'deleted', id };
  return { state: 'shown', id, from: target.from, excerpt: excerptOf(target.text) };
}
