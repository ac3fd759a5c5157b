import { localDateTime } from '../terminal/local-time.js';
import { indentContinuation, oneLine } from '../terminal/terminal-text.js';
import type { Profile } from '../profile/profile.js';
import { peerLabel } from '../stream/peer-label.js';
import type { GroupLine } from './group-reader.js';
import type { HeldGroupLine, ShownGroupLine } from './group-present.js';

function names(profile: Profile, ids: readonly string[]): string {
  return ids
    .map((id) => (id === profile.identifier ? 'me' : peerLabel(profile, id).name))
    .map(oneLine)
    .join(', ');
}

/** A group message's text as printed: "message deleted", "(edited)", the quote of a reply. */
function shownText(line: ShownGroupLine | HeldGroupLine): string {
  if (line.deleted === true) return 'message deleted';
  if (line.deletes !== undefined) return `(deletes ${line.deletes})`;
  const quote = line.quote;
  const quoted =
    quote === undefined
      ? line.replyTo === undefined
        ? ''
        : `(reply to ${line.replyTo}) `
      : quote.state === 'shown'
        ? `(reply: "${oneLine(quote.excerpt)}") `
        : quote.state === 'deleted'
          ? '(reply to a deleted message) '
          : '(reply to a message not here) ';
  const edits = line.edits === undefined ? '' : `(edit of ${line.edits}) `;
  return `${oneLine(quoted)}${edits}${indentContinuation(line.text)}${line.edited === true ? ' (edited)' : ''}`;
}

/**
 * A group line for a person: `[time] [group] alice: text`, the sender named as no other peer is;
 * a message written for an older head says so, with who could also read it and who cannot
 * (docs/protocol.md 16.5 step 7); a refusal is `!! group …: why`. A line from the local history
 * (`held`) has no log fields to say.
 */
export function groupLineText(profile: Profile, line: GroupLine | HeldGroupLine): string {
  if ('warning' in line) return `!! group ${line.group.slice(0, 16)}…: ${line.warning}`;
  const group = oneLine(line.name ?? `${line.group.slice(0, 16)}…`);
  let text = `[${localDateTime(line.time)}] [${group}] ${oneLine(line.sender)}: ${shownText(line)}`;
  if ('current' in line && !line.current) {
    const could = line.formerMembers ?? [];
    const cannot = line.newMembers ?? [];
    text += `\n  !! written for an older membership (log entry ${line.head}): the sender had not seen the later changes`;
    if (could.length > 0) text += `; ${names(profile, could)} could read it too`;
    if (cannot.length > 0) text += `; ${names(profile, cannot)} cannot read it`;
  }
  return text;
}
