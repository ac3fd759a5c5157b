// Edits and deletes in the local history: kept as they come, applied to their target by the core rules.

import type Database from 'better-sqlite3-multiple-ciphers';
import {
  applyChange,
  checkChange,
  groupConversation,
  MetaChatError,
  pairConversation,
  type ChangeMessage,
  type MessageOrigin,
  type MessageView,
} from '../../core/index.js';

/** What became of an edit or delete this history holds: applied, waiting for its target, or refused (its code). */
export type ChangeState = string;

/** A message row with the columns the rules read. */
export interface MessageRow {
  seq: number;
  id: string;
  sender: string;
  recipient: string;
  time: number;
  text: string;
  outgoing: number;
  reply_to: string | null;
  edited_at: number | null;
  edit_id: string | null;
  deleted_at: number | null;
}

/** A change row. */
export interface ChangeRow {
  seq: number;
  sender: string;
  recipient: string;
  id: string;
  time: number;
  kind: 'edit' | 'delete';
  target: string;
  text: string;
}

/** The change row of a verified edit or delete line naming `target`. */
export function changeRowOf(
  line: {
    seq: number;
    from: string;
    to: string;
    id: string;
    time: number;
    text: string;
    edits?: string;
  },
  target: string,
): ChangeRow {
  return {
    seq: line.seq,
    sender: line.from,
    recipient: line.to,
    id: line.id,
    time: line.time,
    kind: line.edits === undefined ? 'delete' : 'edit',
    target,
    text: line.text,
  };
}

/** The message columns read everywhere. */
export const MESSAGE_COLUMNS =
  'seq, id, sender, recipient, time, text, outgoing, reply_to, edited_at, edit_id, deleted_at';

/** The recipient a group message is kept under: `group:<id>` (no peer address holds a colon). */
export const GROUP_RECIPIENT_PREFIX = 'group:';

/** The conversation of a kept row: its group (recipient `group:<id>`), else the pair. */
export function conversationOf(sender: string, recipient: string): string {
  return recipient.startsWith(GROUP_RECIPIENT_PREFIX)
    ? groupConversation(recipient.slice(GROUP_RECIPIENT_PREFIX.length))
    : pairConversation(sender, recipient);
}

function changeOf(row: ChangeRow): ChangeMessage {
  return {
    id: row.id,
    from: row.sender,
    conversation: conversationOf(row.sender, row.recipient),
    time: row.time,
    body:
      row.kind === 'edit'
        ? { v: 1, type: 'edit', target: row.target, text: row.text }
        : { v: 1, type: 'delete', target: row.target },
  };
}

function originOf(row: MessageRow): MessageOrigin {
  return {
    id: row.id,
    from: row.sender,
    conversation: conversationOf(row.sender, row.recipient),
    time: row.time,
    body:
      row.reply_to === null
        ? { v: 1, type: 'text', text: row.text }
        : { v: 1, type: 'reply', target: row.reply_to, text: row.text },
  };
}

function viewOfRow(row: MessageRow): MessageView {
  return {
    id: row.id,
    from: row.sender,
    conversation: conversationOf(row.sender, row.recipient),
    time: row.time,
    text: row.text,
    replyTo: row.reply_to,
    edited: row.edit_id !== null,
    editedAt: row.edited_at,
    editId: row.edit_id,
    deleted: row.deleted_at !== null,
    deletedAt: row.deleted_at,
  };
}

/**
 * Tries one held change against its target: the message with that id, preferring one of the
 * same conversation and sender (an id a hostile relay served twice), else a change with that id
 * (an edit of an edit: refused). Records the outcome on the change and returns it.
 */
export function settleChange(db: Database.Database, row: ChangeRow): ChangeState {
  const change = changeOf(row);
  const target = db
    .prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?
       ORDER BY (sender = ? AND recipient = ?) DESC, seq DESC LIMIT 1`,
    )
    .get(row.target, row.sender, row.recipient) as MessageRow | undefined;
  const otherChange =
    target === undefined
      ? (db
          .prepare(
            'SELECT seq, sender, recipient, id, time, kind, target, text FROM changes WHERE id = ? LIMIT 1',
          )
          .get(row.target) as ChangeRow | undefined)
      : undefined;
  let state: ChangeState = 'pending';
  const found =
    target !== undefined
      ? originOf(target)
      : otherChange !== undefined
        ? changeOf(otherChange)
        : undefined;
  if (found !== undefined) {
    try {
      checkChange(change, found);
      state = 'applied';
    } catch (error) {
      if (!(error instanceof MetaChatError)) throw error;
      state = error.code;
    }
  }
  if (state === 'applied' && target !== undefined) {
    const before = viewOfRow(target);
    const after = applyChange(before, change);
    if (after !== before)
      db.prepare(
        'UPDATE messages SET text = ?, edited_at = ?, edit_id = ?, deleted_at = ? WHERE seq = ?',
      ).run(after.text, after.editedAt, after.editId, after.deletedAt, target.seq);
  }
  db.prepare('UPDATE changes SET state = ? WHERE seq = ?').run(state, row.seq);
  return state;
}

/**
 * Settles again every change naming `id`, after a message or change with that id was added (or
 * moved, losing its applied state): the outcome depends only on what the history holds, and
 * applying is order-independent, so settling twice is harmless.
 */
export function settleChangesOf(db: Database.Database, id: string): void {
  const naming = db
    .prepare(
      `SELECT seq, sender, recipient, id, time, kind, target, text FROM changes
       WHERE target = ? ORDER BY seq`,
    )
    .all(id) as ChangeRow[];
  for (const row of naming) settleChange(db, row);
}

/** What became of the change `id` from `sender`, if this history holds it. */
export function changeState(
  db: Database.Database,
  sender: string,
  id: string,
): ChangeState | undefined {
  const row = db
    .prepare('SELECT state FROM changes WHERE sender = ? AND id = ?')
    .get(sender, id) as { state: string } | undefined;
  return row?.state;
}
