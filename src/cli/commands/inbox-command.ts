import type { PresenceUpdate } from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { withSession } from './with-session.js';
import { discoverGroups } from '../groups/group-discovery.js';
import { attachHistory } from '../history/history-access.js';
import { offlineInbox } from './offline-inbox.js';
import { RelayUnreachableError } from '../relay/relay-client.js';
import type { GroupInboxEntry } from '../stream/group-inbox.js';
import { scanInbox } from '../stream/inbox-scan.js';
import { printStreamIssue } from '../stream/stream-warnings.js';
import { localDateTime } from '../terminal/local-time.js';
import { oneLine, terminalJson } from '../terminal/terminal-text.js';

export type { InboxEntry } from '../stream/inbox-scan.js';

/** A group as the inbox shows it: `[name]`, last activity, unread, the last message's sender and text. */
function groupRow(entry: GroupInboxEntry): string {
  const name = `[${oneLine(entry.name ?? `${entry.group.slice(0, 16)}…`)}]`;
  const unread = entry.unread > 0 ? ` (${entry.unread} unread)` : '';
  const last =
    entry.last === null ? '' : `  ${oneLine(entry.last.sender)}: ${oneLine(entry.last.text)}`;
  const warn = entry.rejected > 0 ? ` !! ${entry.rejected} refused` : '';
  return `${name.padEnd(24)} ${localDateTime(entry.lastActivity)}${unread}${last.slice(0, 80)}${warn}`;
}

/**
 * `inbox`: every conversation of my stream, newest activity first, with unread counts, last
 * activity and presence (`scanInbox`), then every group with its last message. Offline, it says so and lists what this device knows.
 */
export async function inboxCommand(ctx: CliContext): Promise<void> {
  try {
    await onlineInbox(ctx);
  } catch (error) {
    if (!(error instanceof RelayUnreachableError)) throw error;
    await offlineInbox(ctx, error);
  }
}

async function onlineInbox(ctx: CliContext): Promise<void> {
  const presence = new Map<string, PresenceUpdate>();
  await withSession(
    ctx,
    async (session) => {
      await attachHistory(session);
      // A second device finds the groups that list its account (each log verified) before the scan.
      await discoverGroups(session, (line) => process.stderr.write(`${line}\n`));
      const { entries: list, groups, issues } = await scanInbox(session, presence);
      for (const issue of issues) printStreamIssue(issue, ctx.options().json === true);
      if (ctx.options().json === true) {
        for (const entry of list) process.stdout.write(`${terminalJson(entry)}\n`);
        for (const entry of groups) process.stdout.write(`${terminalJson(entry)}\n`);
        return;
      }
      if (list.length === 0 && groups.length === 0) process.stdout.write('No conversations yet.\n');
      for (const entry of groups) process.stdout.write(`${groupRow(entry)}\n`);
      for (const entry of list) {
        const when = localDateTime(entry.lastActivity);
        const state = entry.online
          ? 'online'
          : entry.lastSeen
            ? `seen ${localDateTime(entry.lastSeen)}`
            : '';
        const unread = entry.unread > 0 ? ` (${entry.unread} unread)` : '';
        const warn =
          (entry.rejected > 0 ? ` !! ${entry.rejected} forged or unverifiable` : '') +
          (entry.lookalike === undefined
            ? ''
            : ` !! looks like ${entry.lookalike}: a different peer (${entry.id})`);
        process.stdout.write(
          `${oneLine(entry.name).padEnd(24)} ${when}  ${state}${unread}${warn}\n`,
        );
      }
    },
    false,
    (client) => {
      client.on('presence', (update) => presence.set(update.identifier, update));
    },
  );
}
