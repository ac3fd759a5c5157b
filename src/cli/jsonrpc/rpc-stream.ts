import { isGroupRecord, type StreamRecord } from '../../core/index.js';
import { followGroupPushes } from '../groups/group-push-listener.js';
import { isGroupRefusal, readGroupRecord } from '../groups/group-reader.js';
import { isWarning, readStored } from '../stream/messages.js';
import { changeRefusal, withChangeState } from '../stream/change-state.js';
import type { Session } from '../relay/session.js';
import { followStream, type StreamFollower } from '../stream/stream-follower.js';
import { StreamGuard } from '../stream/stream-guard.js';
import { streamIssueJson } from '../stream/stream-warnings.js';

/** Where notifications go: every connected reader, each written to only while it reads. */
export interface Notifier {
  /** Writes a notification to every reader; a droppable one is dropped (and counted) for a reader that is behind. */
  notify(method: string, params: unknown, droppable?: boolean): void;
  /** Resolves once every reader has room for more (a reader that stays stuck is dropped). */
  room(): Promise<void>;
}

/** A record of my stream as a notification: a `message` (a group's with group, sender, text), or a `warning`. */
async function readRecord(
  session: Session,
  stored: StreamRecord,
): Promise<{ method: 'message' | 'warning'; params: unknown; refusal?: unknown } | null> {
  if (isGroupRecord(stored)) {
    const line = await readGroupRecord(session, stored);
    if (line === null) return null;
    return { method: isGroupRefusal(line) ? 'warning' : 'message', params: line };
  }
  const read = await readStored(session, stored);
  if (read === null) return null;
  // An edit or delete carries what the local history made of it (`state`); a refused one is also a warning.
  const line = withChangeState(session, read);
  const refusal = changeRefusal(session, line);
  return {
    method: isWarning(line) ? 'warning' : 'message',
    params: line,
    ...(refusal === null ? {} : { refusal }),
  };
}

/**
 * Follows my stream as `metachat listen` does (catch-up, then pushes, every packet checked by the
 * stream guard and verified before it counts) and turns it into `message` and `warning`
 * notifications (group messages too, opened and checked as `listen` does; a membership change the
 * relay pushes is a `group-change` notification once verified into the log). Before each packet it waits for the readers to have room: a reader that does not
 * read holds up the stream here, and the follower's own bounds (held pushes, then a dropped and
 * re-synced connection) keep the relay's pushes from piling up. Receipts go to the relay as far as
 * messages were handed over. Marks are kept in the profile as the stream advances.
 */
export async function followForRpc(
  session: Session,
  notifier: Notifier,
  signal: AbortSignal,
): Promise<{ follower: StreamFollower; remember: () => void }> {
  const guard = new StreamGuard({
    seenUpTo: session.profile.seenUpTo,
    remembered: session.profile.recentPackets,
  });
  const remember = () => {
    session.profile.seenUpTo = guard.seenUpTo;
    session.profile.recentPackets = guard.rememberedPackets();
  };
  let receipted = 0;
  const receipt = () => {
    if (guard.seenUpTo <= receipted || !session.client.socket.connected) return;
    receipted = guard.seenUpTo;
    session.client.receipt(receipted).catch(() => {
      receipted = 0;
    });
  };
  followGroupPushes(
    session,
    (line) => {
      notifier.notify('group-change', line, false);
    },
    (line) => {
      notifier.notify('warning', line, false);
    },
  );
  const follower = await followStream(
    session.client,
    guard,
    async (item) => {
      const read = item.kind === 'packet' ? await readRecord(session, item.stored) : null;
      if (signal.aborted) return false;
      await notifier.room();
      if (item.issue) notifier.notify('warning', streamIssueJson(item.issue), false);
      if (item.kind !== 'packet') return false;
      if (read === null) return true;
      notifier.notify(read.method, read.params, false);
      if (read.refusal !== undefined) notifier.notify('warning', read.refusal, false);
      return read.method === 'message';
    },
    {
      signal,
      onProgress: () => {
        remember();
        receipt();
      },
    },
  );
  remember();
  receipt();
  return { follower, remember };
}
