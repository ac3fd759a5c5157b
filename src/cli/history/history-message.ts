// One message as the local history keeps it and reads it back.

import type { MessageRow } from './history-changes.js';

/** One verified message as the history keeps it; `seq` is its place in this account's stream. */
export interface HistoryMessage {
  readonly seq: number;
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly time: number;
  /** The latest text (empty once deleted; for a change: the edit's text). */
  readonly text: string;
  readonly direction: 'incoming' | 'outgoing';
  /** A reply: the packet id it quotes. */
  readonly replyTo?: string;
  /** An edit (given to add): the packet id it gives new text to. */
  readonly edits?: string;
  /** A delete (given to add): the packet id it hides. */
  readonly deletes?: string;
  /** Read back: an accepted edit changed the text, at the sender's time `editedAt`. */
  readonly edited?: boolean;
  readonly editedAt?: number;
  /** Read back: the sender deleted it (at `deletedAt`); `text` is empty. */
  readonly deleted?: boolean;
  readonly deletedAt?: number;
}

/** A message row read back, with its reply, edit and delete fields only when they apply. */
export function message(row: MessageRow): HistoryMessage {
  return {
    seq: row.seq,
    id: row.id,
    from: row.sender,
    to: row.recipient,
    time: row.time,
    text: row.text,
    direction: row.outgoing === 1 ? 'outgoing' : 'incoming',
    ...(row.reply_to === null ? {} : { replyTo: row.reply_to }),
    ...(row.edit_id === null ? {} : { edited: true, editedAt: row.edited_at ?? 0 }),
    ...(row.deleted_at === null ? {} : { deleted: true, deletedAt: row.deleted_at }),
  };
}
