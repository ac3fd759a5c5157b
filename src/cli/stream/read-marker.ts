// The read-marker guard: where a page may move a conversation's (or group's) read marker.

import type { Profile } from '../profile/profile.js';
import { MAX_JUMP, type StreamIssue } from './stream-guard.js';

/**
 * Whether a page may move a read marker (now at `readUpTo`) to `lastIncoming`, the place of its last
 * verified incoming message: never far beyond what this device knows of its stream (its mark, the
 * marker, the packets it remembers), or a relay claiming 2^53-1 would hide every later unread.
 * Returns the new marker (undefined: leave it) and, for a jump, the STREAM_JUMP issue naming `what`
 * ("this conversation", "this group").
 */
export function moveReadMarker(
  profile: Pick<Profile, 'seenUpTo' | 'recentPackets'>,
  readUpTo: number | undefined,
  lastIncoming: number,
  what: string,
): { readUpTo?: number; issue?: StreamIssue } {
  const known = Math.max(
    profile.seenUpTo,
    readUpTo ?? 0,
    ...(profile.recentPackets ?? []).map(([seq]) => seq),
  );
  if (lastIncoming > known + MAX_JUMP)
    return {
      issue: {
        code: 'STREAM_JUMP',
        message: `The relay put a message of ${what} at position ${lastIncoming} of your stream, far beyond what this device knows of it (${known}): the read marker does not move there.`,
        seq: lastIncoming,
      },
    };
  return lastIncoming > (readUpTo ?? 0) ? { readUpTo: lastIncoming } : {};
}
