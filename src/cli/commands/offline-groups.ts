import { groupHead } from '../../core/index.js';
import { heldGroupIds, heldGroupLog, heldGroupName } from '../profile/group-store.js';
import { ProfileCorruptError, type Profile } from '../profile/profile.js';
import { oneLine } from '../terminal/terminal-text.js';

/** One group this device holds while the relay cannot be asked: its verified head, no unread count. */
export interface OfflineGroupEntry {
  readonly group: string;
  readonly name: string | null;
  /** Members at the head of the log this device verified. */
  readonly members: number;
  /** False once I was removed or left (at the verified head). */
  readonly member: boolean;
  readonly admin: boolean;
  /** Set instead of the counts when the profile's log of it does not replay: why. */
  readonly damaged?: string;
  readonly offline: true;
}

/** The groups the profile keeps (logs it verified), by name; a log that does not replay says so. */
export function offlineGroups(profile: Profile): OfflineGroupEntry[] {
  const entries = heldGroupIds(profile).map((group): OfflineGroupEntry => {
    const name = heldGroupName(profile, group) ?? null;
    try {
      const log = heldGroupLog(profile, group);
      const head = log === null ? null : groupHead(log);
      return {
        group,
        name,
        members: head?.members.length ?? 0,
        member: head?.members.includes(profile.identifier) ?? false,
        admin: head?.admins.includes(profile.identifier) ?? false,
        offline: true,
      };
    } catch (error) {
      if (!(error instanceof ProfileCorruptError)) throw error;
      return {
        group,
        name,
        members: 0,
        member: false,
        admin: false,
        damaged: error.message,
        offline: true,
      };
    }
  });
  return entries.sort((a, b) => (a.name ?? a.group).localeCompare(b.name ?? b.group));
}

/** A group as the offline inbox shows it: `[name]`, members, and whether I am still one. */
export function offlineGroupRow(entry: OfflineGroupEntry): string {
  const name = `[${oneLine(entry.name ?? `${entry.group.slice(0, 16)}…`)}]`;
  if (entry.damaged !== undefined) return `${name.padEnd(24)} !! ${oneLine(entry.damaged)}`;
  const state = !entry.member ? 'no longer a member' : entry.admin ? 'admin' : 'member';
  return `${name.padEnd(24)} group of ${entry.members}, ${state}`;
}
