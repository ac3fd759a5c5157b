// What the local history made of an edit or delete as it streams in: applied, pending, or refused.

import type { Session } from '../relay/session.js';
import { isWarning, type MessageLine } from './messages.js';
import { peerLabel } from './peer-label.js';

/** A streamed line with `state` added for an edit or delete the local history holds. */
export function withChangeState(session: Session, line: MessageLine): MessageLine {
  if (isWarning(line) || (line.edits === undefined && line.deletes === undefined)) return line;
  const state = session.history?.changeState(line.from, line.id);
  return state === undefined ? line : { ...line, state };
}

/** The warning for a change the rules refused (state is a code), or null when it was not refused. */
export function changeRefusal(
  session: Session,
  line: MessageLine,
): {
  readonly id: string;
  readonly seq: number;
  readonly code: string;
  readonly warning: string;
} | null {
  if (isWarning(line) || line.state === undefined) return null;
  if (line.state === 'applied' || line.state === 'pending') return null;
  const what = line.edits === undefined ? 'delete' : 'edit';
  return {
    id: line.id,
    seq: line.seq,
    code: line.state,
    warning: `A ${what} from ${peerLabel(session.profile, line.from).name} of message ${line.edits ?? line.deletes ?? ''} was refused (${line.state}); nothing changed.`,
  };
}
