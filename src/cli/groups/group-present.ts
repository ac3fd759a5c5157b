// A page of a group's messages as shown: edits and deletes applied within the page, replies quoted.

import {
  foldConversation,
  groupConversation,
  type Body,
  type FoldedMessage,
  type ReplyQuote,
} from '../../core/index.js';
import { isGroupRefusal, type GroupLine, type GroupMessageLine } from './group-reader.js';

/** A group message as shown: its latest text, whether edited or deleted, and what it quotes. */
export type ShownGroupLine = GroupMessageLine & {
  readonly edited?: boolean;
  readonly editedAt?: number;
  readonly deleted?: boolean;
  readonly deletedAt?: number;
  readonly quote?: ReplyQuote;
};

/** A group message read back from the local history: what it keeps, without the log fields of a live read. */
export type HeldGroupLine = Omit<
  ShownGroupLine,
  'head' | 'current' | 'formerMembers' | 'newMembers'
> & {
  /** Read from this device's history, not from the relay. */
  readonly held: true;
};

function bodyOf(line: GroupMessageLine): Body {
  if (line.edits !== undefined) return { v: 1, type: 'edit', target: line.edits, text: line.text };
  if (line.deletes !== undefined) return { v: 1, type: 'delete', target: line.deletes };
  if (line.replyTo !== undefined)
    return { v: 1, type: 'reply', target: line.replyTo, text: line.text };
  return { v: 1, type: 'text', text: line.text };
}

/**
 * The lines of a group page as shown, folded within the page (withHeldChanges then adds what
 * the local history kept from other pages). An edit or delete is no line of its own; a refused
 * one (another member's message, another conversation) is a refusal line with its code; one
 * whose target is not in the page changes nothing shown here.
 */
export function presentGroupLines(lines: readonly GroupLine[]): GroupLine[] {
  const messages = lines.filter((line): line is GroupMessageLine => !isGroupRefusal(line));
  const folded = foldConversation(
    messages.map((line) => ({
      id: line.id,
      from: line.from,
      conversation: groupConversation(line.group),
      time: line.time,
      body: bodyOf(line),
    })),
  );
  const views = new Map<string, FoldedMessage>();
  for (const view of folded.messages) views.set(`${view.from}/${view.id}`, view);
  const refused = new Map(folded.refused.map((r) => [`${r.change.from}/${r.change.id}`, r.error]));
  return lines.flatMap((line): GroupLine[] => {
    if (isGroupRefusal(line)) return [line];
    const key = `${line.from}/${line.id}`;
    const error = refused.get(key);
    if (error !== undefined)
      return [
        { id: line.id, seq: line.seq, group: line.group, warning: error.message, code: error.code },
      ];
    const view = views.get(key);
    if (view === undefined) return [];
    const shown: ShownGroupLine = {
      ...line,
      text: view.text,
      ...(view.edited ? { edited: true, editedAt: view.editedAt ?? 0 } : {}),
      ...(view.deleted ? { deleted: true, deletedAt: view.deletedAt ?? 0 } : {}),
      ...(view.quote === null ? {} : { quote: view.quote }),
    };
    return [shown];
  });
}
