import type { StoredGroupPacket } from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { readGroupHistoryPage } from '../groups/group-history.js';
import { groupLineText } from '../groups/group-line-text.js';
import { presentGroupLines } from '../groups/group-present.js';
import { withHeldChanges } from '../groups/group-kept.js';
import { groupTitle } from '../groups/group-operations.js';
import { isGroupRefusal, readGroupRecord, type GroupLine } from '../groups/group-reader.js';
import { sendToGroup } from '../groups/group-send.js';
import { messageBody, type MessageBody } from '../outgoing/compose.js';
import type { Session } from '../relay/session.js';
import { printStreamIssue } from '../stream/stream-warnings.js';
import { oneLine, terminalJson } from '../terminal/terminal-text.js';

/** `send group:<g> <text>`: the text sealed for every member at the verified head, stored once. */
export async function sendGroupCommand(
  ctx: CliContext,
  session: Session,
  group: string,
  content: string | MessageBody,
): Promise<void> {
  const sent = await sendToGroup(session, group, content);
  const body = messageBody(content);
  const what = body.type === 'edit' ? 'Edit sent' : body.type === 'delete' ? 'Delete sent' : 'Sent';
  ctx.print(`${what} to ${groupTitle(session, group)} (${sent.id}).`, {
    ...sent,
    ...(body.type === 'edit' || body.type === 'delete' ? { target: body.target } : {}),
  });
}

/** A refusal as every command shows it: red on stderr, and with `json` a JSON line on stdout too. */
function printRefusal(line: GroupLine, session: Session, json: boolean): void {
  process.stderr.write(`\u001b[31m${oneLine(groupLineText(session.profile, line))}\u001b[0m\n`);
  if (json) process.stdout.write(`${terminalJson(line)}\n`);
}

/** `history group:<g>`: the group's last messages in my stream (before `before`), each opened and checked, oldest first. */
export async function groupHistoryCommand(
  ctx: CliContext,
  session: Session,
  group: string,
  limit: number,
  before?: number,
): Promise<void> {
  const json = ctx.options().json === true;
  const { items } = await readGroupHistoryPage(session, group, limit, before);
  // Edits and deletes applied: those of the page, and those the history kept from other pages.
  const presented = new Map(
    withHeldChanges(
      presentGroupLines(items.flatMap((item) => (item.kind === 'line' ? [item.line] : []))),
      session.history,
    ).map((line) => [`${line.seq}/${line.id}`, line]),
  );
  for (const item of items) {
    if (item.kind === 'issue') {
      printStreamIssue(item.issue, json);
      continue;
    }
    const line = presented.get(`${item.line.seq}/${item.line.id}`);
    if (line === undefined) continue;
    if (isGroupRefusal(line)) printRefusal(line, session, json);
    else ctx.print(groupLineText(session.profile, line), line);
  }
}

/**
 * `listen` for a group record: opened and checked (readGroupRecord), printed as a JSON line (a
 * refusal also red on stderr). Answers whether it verified, so only then does its place count.
 */
export async function listenGroupRecord(
  session: Session,
  stored: StoredGroupPacket,
  stopped: () => boolean,
): Promise<boolean> {
  const line = await readGroupRecord(session, stored);
  if (stopped()) return false;
  if (line === null) return true;
  if (isGroupRefusal(line)) {
    printRefusal(line, session, true);
    return false;
  }
  process.stdout.write(`${terminalJson(line)}\n`);
  return true;
}
