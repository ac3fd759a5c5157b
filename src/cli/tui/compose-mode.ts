// What the draft is for besides a new message: an edit of my last message, or a reply.

import { excerptOf } from '../../core/index.js';
import type { MessageBody } from '../outgoing/compose.js';
import { sanitizeForTerminal } from '../terminal/terminal-text.js';
import type { ShownMessage } from './chat-fold.js';

/** The draft edits one of my messages (`saved`: the draft to give back on Esc), or replies to one. */
export type ComposeMode =
  | {
      readonly kind: 'edit';
      readonly target: string;
      readonly excerpt: string;
      readonly saved: string;
    }
  | {
      readonly kind: 'reply';
      readonly target: string;
      readonly excerpt: string;
      readonly mine: boolean;
    };

/** Whether a message has a packet id others know it by (sealed), so it can be edited or quoted. */
function sealed(message: ShownMessage): boolean {
  return (
    message.warning === undefined &&
    message.deleted !== true &&
    !message.id.startsWith('local-') &&
    message.status !== 'failed'
  );
}

/** My newest message that can be edited (↑ on an empty draft), if any. */
export function lastEditable(messages: readonly ShownMessage[]): ShownMessage | undefined {
  return messages.findLast((message) => message.direction === 'outgoing' && sealed(message));
}

/** The messages a selection moves over (to reply to, edit or delete), oldest first. */
export function selectable(messages: readonly ShownMessage[]): ShownMessage[] {
  return messages.filter(sealed);
}

/** The selection `by` messages from `current` (down is newer), or the newest when none is chosen. */
export function moveSelection(
  messages: readonly ShownMessage[],
  current: string | null,
  by: number,
): string | null {
  const list = selectable(messages);
  if (list.length === 0) return null;
  const at = list.findIndex((message) => message.id === current);
  const from = at < 0 ? list.length : at;
  const next = Math.max(0, Math.min(list.length - 1, from + by));
  return list[next]?.id ?? null;
}

/** The edit of `message` the draft starts as: its text, the draft kept for Esc. */
export function startEdit(message: ShownMessage, saved: string): ComposeMode {
  return {
    kind: 'edit',
    target: message.id,
    excerpt: excerptOf(message.text ?? ''),
    saved,
  };
}

/** A reply to `message`. */
export function startReply(message: ShownMessage): ComposeMode {
  return {
    kind: 'reply',
    target: message.id,
    excerpt: excerptOf(message.text ?? ''),
    mine: message.direction === 'outgoing',
  };
}

/** What Enter sends for this draft: the text, or the reply or edit body around it. */
export function composedBody(mode: ComposeMode | null, text: string): string | MessageBody {
  if (mode === null) return text;
  return { v: 1, type: mode.kind, target: mode.target, text };
}

/** The line above the draft that says what it is for. */
export function composeBanner(
  mode: ComposeMode,
  names: { readonly mine: string; readonly theirs: string },
): string {
  const excerpt = sanitizeForTerminal(mode.excerpt, false);
  if (mode.kind === 'edit') return `editing: ${excerpt} · Enter sends the edit · Esc cancels`;
  const who = sanitizeForTerminal(mode.mine ? names.mine : names.theirs, false);
  return `↪ replying to ${who}: ${excerpt} · Esc cancels`;
}
