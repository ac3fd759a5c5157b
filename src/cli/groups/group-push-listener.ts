import { MetaChatError, type GroupEntry } from '../../core/index.js';
import { heldGroupName } from '../profile/group-store.js';
import type { Session } from '../relay/session.js';
import { groupChangeLine } from './group-change-line.js';
import { GroupKeyring } from './group-keyring.js';
import { takeGroupPush } from './group-sync.js';

/** One membership change as `listen` prints it (a JSON line). */
export interface GroupChangeLine {
  readonly group: string;
  readonly name: string | null;
  readonly index: number;
  readonly change: string;
}

/** A group push that could not be taken in, as `listen` prints it. */
export interface GroupWarningLine {
  readonly group: string;
  readonly code: string;
  readonly warning: string;
}

/**
 * Takes the relay's `group-entry` pushes into the profile's group store one at a time (each
 * verified against the log, takeGroupPush), and reports each new entry as a change line, or why a
 * push was refused. Returns a function that resolves once the pushes received so far are handled.
 */
export function followGroupPushes(
  session: Session,
  onChange: (line: GroupChangeLine) => void,
  onWarning: (line: GroupWarningLine) => void,
): () => Promise<void> {
  let queue: Promise<void> = Promise.resolve();
  const take = async (entry: GroupEntry) => {
    try {
      const { log, added } = await takeGroupPush(session, new GroupKeyring(session), entry);
      const name = heldGroupName(session.profile, log.group) ?? null;
      for (const verified of added) {
        onChange({
          group: log.group,
          name,
          index: verified.index,
          change: groupChangeLine(session.profile, verified.entry),
        });
      }
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      onWarning({
        group: entry.group,
        code: error instanceof MetaChatError ? error.code : error.name,
        warning: `group ${entry.group.slice(0, 16)}…: ${error.message}`,
      });
    }
  };
  session.client.on('group-entry', (entry) => {
    queue = queue.then(() => take(entry));
  });
  return () => queue;
}
