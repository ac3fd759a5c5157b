import { readGroupHistoryPage } from '../groups/group-history.js';
import { isGroupRefusal } from '../groups/group-reader.js';
import { sendToGroup, type GroupSent } from '../groups/group-send.js';
import { presentGroupLines } from '../groups/group-present.js';
import type { MessageBody } from '../outgoing/compose.js';
import { heldGroupName } from '../profile/group-store.js';
import type { Session } from '../relay/session.js';
import { streamIssueJson } from '../stream/stream-warnings.js';

/**
 * The JSON-RPC mode's group sends, one at a time: each brings the group's log up to the relay's
 * and seals for its head (sendToGroup, as `send group:<g>`), so two sends never verify and keep the
 * same log at once.
 */
export class GroupSender {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly session: Session) {}

  /** Seals a text (or reply, edit, delete) for every member at the verified head and resolves once the relay stored it. */
  send(group: string, content: string | MessageBody): Promise<GroupSent> {
    const run = this.chain.then(
      () => sendToGroup(this.session, group, content),
      () => sendToGroup(this.session, group, content),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every send asked so far has its answer. */
  async idle(): Promise<void> {
    await this.chain;
  }
}

/**
 * `history` for `group:<g>`, as `history group:<g> --json` reads it: the group's messages in my
 * stream, each opened and checked (readGroupHistoryPage); refusals stay in their place among the
 * messages (with their code, never text), stream issues are warnings.
 */
export async function groupHistory(
  session: Session,
  group: string,
  limit: number,
  before: number | undefined,
): Promise<unknown> {
  const { items, more } = await readGroupHistoryPage(session, group, limit, before);
  // Edits and deletes applied within the page, refused ones in their place, replies quoted.
  const lines = presentGroupLines(
    items.flatMap((item) => (item.kind === 'line' ? [item.line] : [])),
  );
  return {
    group,
    name: heldGroupName(session.profile, group) ?? null,
    messages: lines,
    refused: lines.filter((line) => isGroupRefusal(line)).length,
    warnings: items.flatMap((item) => (item.kind === 'issue' ? [streamIssueJson(item.issue)] : [])),
    more,
  };
}
