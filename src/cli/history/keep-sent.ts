// A message this device sent, kept in the local history at the place the relay's acknowledgement gives.

import { MAX_JUMP } from '../stream/stream-guard.js';
import { oneLine } from '../terminal/terminal-text.js';
import { keepInHistory, type HistoryHolder } from './history-access.js';
import type { HistoryMessage } from './history-store.js';

/** The relay's acknowledgement of a send: the packet's place in my stream. */
export interface SendAck {
  readonly seq: number;
  /** The relay already held this packet id (a resend): its place is the first one. */
  readonly duplicate?: boolean;
}

/**
 * Why the acknowledged place cannot be the sent packet's, or null when it can: a place this device
 * had already seen before sending (`floor`, its stream mark then; a resend keeps its old place), a
 * place far beyond what it knows of its stream, or one held by another packet (in the history or
 * among the packets the profile remembers).
 */
function refusal(
  holder: HistoryHolder,
  ack: SendAck,
  sent: HistoryMessage,
  floor: number,
): string | null {
  const { profile } = holder;
  const remembered = profile.recentPackets ?? [];
  const known = Math.max(profile.seenUpTo, floor, ...remembered.map(([seq]) => seq));
  if (!Number.isSafeInteger(ack.seq) || ack.seq < 1) return 'is not a place in a stream';
  if (ack.duplicate !== true && ack.seq <= floor)
    return `is one this device had already seen before sending (up to ${floor})`;
  if (ack.seq > known + MAX_JUMP)
    return `is far beyond what this device knows of your stream (${known})`;
  if (remembered.some(([seq, id]) => seq === ack.seq && id !== sent.id))
    return 'holds another packet this device saw';
  let held: HistoryMessage | undefined;
  try {
    held = holder.history?.at(ack.seq);
  } catch {
    // A failing history: the add below meets the same failure and says it once.
    return null;
  }
  if (held !== undefined && (held.from !== sent.from || held.id !== sent.id))
    return 'holds another message in the local history';
  return null;
}

/**
 * Keeps a sent message in the local history at the seq of the relay's acknowledgement, only if that
 * place can be true (refusal above); otherwise says once on stderr that it is not kept there. A
 * place held by another packet is never overwritten, and a later page that shows another verified
 * packet at the place taken this way wins it back (HistoryStore.add).
 */
export function keepSent(
  holder: HistoryHolder,
  ack: SendAck,
  sent: HistoryMessage,
  floor: number,
): void {
  if (holder.history === undefined) return;
  const why = refusal(holder, ack, sent, floor);
  if (why !== null) {
    process.stderr.write(
      `metachat: ${oneLine(`The relay acknowledged message ${sent.id} at position ${ack.seq} of your stream, which ${why}: it is not kept in the local history there (the relay's own pages will show where it is).`)}\n`,
    );
    return;
  }
  keepInHistory(holder, [sent], 'ack');
}
