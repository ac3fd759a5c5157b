// The fields a message line carries for each shown body: its text, and what it replies to or changes.

import type { ChangeBody, ShownBody } from '../../core/index.js';

/** What a line says of its body: the text (empty for a delete) and the packet id it names. */
export interface BodyFields {
  readonly text: string;
  /** A reply: the packet id it quotes. */
  readonly replyTo?: string;
  /** An edit: the packet id of the message it gives new text to. */
  readonly edits?: string;
  /** A delete: the packet id of the message it hides. */
  readonly deletes?: string;
}

/** The line fields of a text, reply, edit or delete body (docs/protocol.md 8.1). */
export function bodyFields(body: ShownBody | ChangeBody): BodyFields {
  switch (body.type) {
    case 'text':
      return { text: body.text };
    case 'reply':
      return { text: body.text, replyTo: body.target };
    case 'edit':
      return { text: body.text, edits: body.target };
    case 'delete':
      return { text: '', deletes: body.target };
  }
}
