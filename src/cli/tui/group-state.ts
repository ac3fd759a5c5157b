import type { ChatMessage } from './chat-state.js';

export type { GroupChat, GroupMemberRow, GroupSummary } from './chat-state.js';

/** How the chat screen names a group conversation: apart from any peer's id, which holds no colon. */
export const GROUP_CHAT_PREFIX = 'group:';

/** The chat screen's id for a group conversation. */
export function groupChatId(group: string): string {
  return `${GROUP_CHAT_PREFIX}${group}`;
}

/** The group a chat screen id names, or null for a peer's conversation. */
export function groupOfChat(id: string): string | null {
  return id.startsWith(GROUP_CHAT_PREFIX) ? id.slice(GROUP_CHAT_PREFIX.length) : null;
}

function order(message: ChatMessage): number {
  return message.seq ?? Number.MAX_SAFE_INTEGER;
}

/**
 * Adds or replaces a group conversation's lines by id, ordered by time (a membership change has no
 * place in my stream, only the time its author gave), then by place in my stream.
 */
export function mergeGroupLines(
  current: readonly ChatMessage[],
  incoming: readonly ChatMessage[],
): ChatMessage[] {
  const byId = new Map(current.map((message) => [message.id, message]));
  for (const message of incoming) byId.set(message.id, { ...byId.get(message.id), ...message });
  return [...byId.values()].sort((a, b) => a.time - b.time || order(a) - order(b));
}
