import type { ConnectionState, ConversationSummary, TrustState } from './chat-state.js';
import { clockTime, dayLabel } from '../terminal/local-time.js';

/** The connection as the headers say it, with the color to say it in. */
export function describeConnection(state: ConnectionState): { text: string; color: string } {
  switch (state.status) {
    case 'connected':
      return { text: 'connected', color: 'green' };
    case 'connecting':
      return { text: 'connecting…', color: 'yellow' };
    case 'reconnecting':
      return {
        text: state.attempt > 0 ? `reconnecting (attempt ${state.attempt})` : 'reconnecting…',
        color: 'yellow',
      };
    case 'offline':
      return { text: `offline: ${state.reason}`, color: 'red' };
  }
}

/** A short time for lists: "14:02" today, "24 Nov" this year, "24 Nov 2025" before. */
export function shortWhen(time: number, now: number = Date.now()): string {
  if (time === 0) return '';
  if (dayLabel(time) === dayLabel(now)) return clockTime(time);
  const date = new Date(time);
  const sameYear = date.getFullYear() === new Date(now).getFullYear();
  return date.toLocaleDateString('en-GB', {
    day: 'numeric',
    month: 'short',
    ...(sameYear ? {} : { year: 'numeric' }),
  });
}

/** "online", "last seen 14:02" (today) or "last seen Monday 3 March 2026", or nothing known. */
export function describePresence(
  summary: Pick<ConversationSummary, 'online' | 'lastSeen'>,
  now: number = Date.now(),
): string {
  if (summary.online) return 'online';
  if (summary.lastSeen === null) return '';
  return `last seen ${shortWhen(summary.lastSeen, now)}`;
}

/** The trust state of a peer's key, as a short label and a color (a changed key is loud). */
export function describeTrust(trust: TrustState): { text: string; color: string } {
  switch (trust) {
    case 'verified':
      return { text: 'verified', color: 'green' };
    case 'unverified':
      return { text: 'key pinned, not verified', color: 'yellow' };
    case 'changed':
      return { text: 'KEY CHANGED: sending blocked', color: 'red' };
    case 'unknown':
      return { text: 'key not fetched yet', color: 'gray' };
  }
}
