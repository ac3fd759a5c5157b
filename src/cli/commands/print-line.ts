// How a conversation's lines are printed: a message (with its edits, delete and quote) or a warning.

import type { CliContext } from '../cli-context.js';
import type { Unlocked } from '../relay/session.js';
import { isWarning, type MessageLine } from '../stream/messages.js';
import { peerLabel } from '../stream/peer-label.js';
import type { ShownLine } from '../stream/present-lines.js';
import { localDateTime } from '../terminal/local-time.js';
import { indentContinuation, oneLine, terminalJson } from '../terminal/terminal-text.js';

function render(session: Unlocked, line: ShownLine | MessageLine): string {
  if (isWarning(line)) return `!! ${line.warning}`;
  const time = localDateTime(line.time);
  // A name no other peer shares: a look-alike identifier never reads like a contact's.
  const who = line.direction === 'outgoing' ? 'me' : peerLabel(session.profile, line.from).name;
  // A peer's line feeds cannot start a line that reads like another message: continuation lines are prefixed.
  return `[${time}] ${oneLine(who)}: ${shownText(session, line)}`;
}

/** A message's text as printed: "message deleted", "(edited)", the quote of a reply, an edit's target. */
function shownText(session: Unlocked, line: ShownLine): string {
  if (line.deleted === true) return 'message deleted';
  if (line.deletes !== undefined) return `(deletes ${line.deletes})`;
  const quote = line.quote;
  const quoted =
    quote === undefined
      ? line.replyTo === undefined
        ? ''
        : `(reply to ${line.replyTo}) `
      : quote.state === 'shown'
        ? `(reply to ${quote.from === session.account.identifier ? 'me' : peerLabel(session.profile, quote.from).name}: "${oneLine(quote.excerpt)}") `
        : quote.state === 'deleted'
          ? '(reply to a deleted message) '
          : '(reply to a message not here) ';
  const edits = line.edits === undefined ? '' : `(edit of ${line.edits}) `;
  const edited = line.edited === true ? ' (edited)' : '';
  return `${oneLine(quoted)}${edits}${indentContinuation(line.text)}${edited}`;
}

/** Prints one line of a conversation: a message (stdout), or a red warning (stderr; with --json stdout too). */
export function printLine(ctx: CliContext, session: Unlocked, line: MessageLine): void {
  if (isWarning(line)) {
    process.stderr.write(`\u001b[31m${oneLine(render(session, line))}\u001b[0m\n`);
    if (ctx.options().json === true) process.stdout.write(`${terminalJson(line)}\n`);
    return;
  }
  ctx.print(render(session, line), line);
}
