import type { ChatLog, ConnectionState } from './chat-state.js';

/**
 * The status line's word on a conversation shown from this device's history: offline (the relay
 * out of reach), or catching up until the relay's newest page came; null once it did.
 */
export function cacheNote(log: ChatLog | undefined, connection: ConnectionState): string | null {
  if (log?.cached !== true) return null;
  const held =
    log.messages.length === 0 ? 'nothing held on this device' : 'from this device’s history';
  if (connection.status === 'connected' || connection.status === 'connecting')
    return `${held}, catching up with the relay…`;
  return `offline: ${held}`;
}
