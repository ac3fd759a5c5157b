import { isWarning, readStored } from '../stream/messages.js';
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

/**
 * Follows my stream as `metachat listen` does (catch-up, then pushes, every packet checked by the
 * stream guard and verified before it counts) and turns it into `message` and `warning`
 * notifications. Before each packet it waits for the readers to have room: a reader that does not
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
  const follower = await followStream(
    session.client,
    guard,
    async (item) => {
      const line = item.kind === 'packet' ? await readStored(session, item.stored) : null;
      if (signal.aborted) return false;
      await notifier.room();
      if (item.issue) notifier.notify('warning', streamIssueJson(item.issue), false);
      if (item.kind !== 'packet') return false;
      if (line === null) return true;
      if (isWarning(line)) {
        notifier.notify('warning', line, false);
        return false;
      }
      notifier.notify('message', line, false);
      return true;
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
