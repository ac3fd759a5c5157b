import type { ConversationSummary } from './chat-state.js';
import { groupChatId, type GroupSummary } from './group-state.js';

/** One row of the inbox: a peer's conversation or a group's, under the id the app opens it by. */
export type InboxItem =
  | { readonly kind: 'peer'; readonly id: string; readonly entry: ConversationSummary }
  | { readonly kind: 'group'; readonly id: string; readonly entry: GroupSummary };

/** Peers' conversations and groups in one list, newest activity first. */
export function inboxItems(
  conversations: readonly ConversationSummary[],
  groups: readonly GroupSummary[],
): InboxItem[] {
  const items: InboxItem[] = [
    ...conversations.map((entry) => ({ kind: 'peer' as const, id: entry.id, entry })),
    ...groups.map((entry) => ({ kind: 'group' as const, id: groupChatId(entry.group), entry })),
  ];
  return items.sort((a, b) => b.entry.lastActivity - a.entry.lastActivity);
}
