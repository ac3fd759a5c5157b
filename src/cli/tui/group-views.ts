import { groupHead, type GroupLog } from '../../core/index.js';
import { heldGroupIds, heldGroupLog, heldGroupName } from '../profile/group-store.js';
import { ProfileCorruptError, type Profile } from '../profile/profile.js';
import type { Session } from '../relay/session.js';
import { peerLabel } from '../stream/peer-label.js';
import type { ChatMessage } from './chat-state.js';
import { groupChangeLines } from './group-lines.js';
import { mergeGroupLines, type GroupChat, type GroupSummary } from './group-state.js';

/** What the chat screen counts of one group while it reads my stream. */
export interface Tally {
  unread: number;
  lastActivity: number;
  lastIncomingSeq: number;
  rejected: number;
  last: { sender: string; text: string } | null;
}

/** An opened group conversation as the desk keeps it: its message lines, changes added when shown. */
export type OpenedGroup = Omit<GroupChat, 'messages'> & { lines: ChatMessage[] };

/** The log this device holds for a group; null when none, or when the profile's copy is damaged. */
function heldLog(profile: Profile, group: string): GroupLog | null {
  try {
    return heldGroupLog(profile, group);
  } catch (error) {
    // Damaged on disk: the group commands say so with its code; the screen shows no changes.
    if (error instanceof ProfileCorruptError) return null;
    throw error;
  }
}

/** Members at the verified head whose pinned key changed (or is disputed), by name. */
function changedMembers(profile: Profile, log: GroupLog | null): string[] {
  if (log === null) return [];
  return groupHead(log)
    .members.filter(
      (id) => profile.peers[id]?.changedKey !== undefined || profile.peers[id]?.disputed === true,
    )
    .map((id) => peerLabel(profile, id).name);
}

/**
 * The inbox's groups: every group this device holds a log of (its last change is activity too, so
 * a group I was just added to shows before its first message) and every group with records in my
 * stream; newest activity first.
 */
export function groupSummaries(
  profile: Profile,
  tallies: ReadonlyMap<string, Tally>,
  opened: ReadonlySet<string>,
): GroupSummary[] {
  const groups = new Set([...heldGroupIds(profile), ...tallies.keys(), ...opened]);
  return [...groups]
    .map((group) => {
      const tally = tallies.get(group);
      const log = heldLog(profile, group);
      const changedAt = log?.entries.at(-1)?.entry.time ?? 0;
      return {
        group,
        name: heldGroupName(profile, group) ?? `${group.slice(0, 12)}…`,
        unread: tally?.unread ?? 0,
        lastActivity: Math.max(tally?.lastActivity ?? 0, changedAt),
        last: tally?.last ?? null,
        rejected: tally?.rejected ?? 0,
        changed: changedMembers(profile, log),
      };
    })
    .filter(
      (summary) => summary.lastActivity > 0 || summary.rejected > 0 || opened.has(summary.group),
    )
    .sort((a, b) => b.lastActivity - a.lastActivity);
}

/**
 * The opened group conversations as the view shows them: the message lines with the log's
 * membership changes placed among them (from the oldest loaded message on, all once the first
 * page is loaded), and whether I am still a member at the verified head.
 */
export function groupChatViews(
  session: Pick<Session, 'profile' | 'account'>,
  chats: ReadonlyMap<string, OpenedGroup>,
): Map<string, GroupChat> {
  const { profile, account } = session;
  const out = new Map<string, GroupChat>();
  for (const [group, { lines, ...chat }] of chats) {
    const log = heldLog(profile, group);
    const oldest = chat.hasOlder
      ? (lines.find((line) => line.seq !== undefined)?.time ?? Date.now())
      : 0;
    const changes = log === null ? [] : groupChangeLines(profile, account, log, oldest);
    const member = log === null ? chat.member : groupHead(log).members.includes(account.identifier);
    out.set(group, { ...chat, member, messages: mergeGroupLines(lines, changes) });
  }
  return out;
}
