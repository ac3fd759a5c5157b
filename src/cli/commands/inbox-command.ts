import type { PresenceUpdate } from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { withSession } from './with-session.js';
import { offlineInbox } from './offline-inbox.js';
import { RelayUnreachableError } from '../relay/relay-client.js';
import { scanInbox } from '../stream/inbox-scan.js';
import { printStreamIssue } from '../stream/stream-warnings.js';
import { localDateTime } from '../terminal/local-time.js';
import { oneLine, terminalJson } from '../terminal/terminal-text.js';

export type { InboxEntry } from '../stream/inbox-scan.js';

/**
 * `inbox`: every conversation of my stream, newest activity first, with unread counts, last
 * activity and presence (`scanInbox`). Offline, it says so and lists what this device knows.
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
      const { entries: list, issues } = await scanInbox(session, presence);
      for (const issue of issues) printStreamIssue(issue, ctx.options().json === true);
      if (ctx.options().json === true) {
        for (const entry of list) process.stdout.write(`${terminalJson(entry)}\n`);
        return;
      }
      if (list.length === 0) process.stdout.write('No conversations yet.\n');
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
