import {
  MetaChatError,
  replayGroupEntry,
  type GroupHead,
  type GroupLog,
  type VerifiedGroupEntry,
} from '../../core/index.js';
import { makeGroupRoom } from './group-budget.js';
import type { GroupRecord, Profile } from './profile-schema.js';
import { ProfileCorruptError } from './profile.js';

export { GroupStoreFullError, TooManyGroupsError } from './group-budget.js';

/** Logs rebuilt from a record's entries, so a command that reads a group twice replays it once. */
const rebuilt = new WeakMap<GroupRecord['entries'], GroupLog>();

/**
 * The verified log this device holds for a group (null: none). The entries were verified when they
 * came (signatures, keys, rules: updateGroupLog); from the profile they are only linked and replayed
 * through the rules again, so a profile edited on disk into a broken chain is refused, not believed.
 */
export function heldGroupLog(profile: Profile, group: string): GroupLog | null {
  const record = profile.groups?.[group];
  if (record === undefined) return null;
  const cached = rebuilt.get(record.entries);
  if (cached !== undefined) return cached;
  const entries: VerifiedGroupEntry[] = [];
  let head: GroupHead | null = null;
  try {
    for (const entry of record.entries) {
      head = replayGroupEntry(head, entry);
      entries.push({ ...head, entry });
    }
  } catch (error) {
    if (!(error instanceof MetaChatError)) throw error;
    throw new ProfileCorruptError(
      `The profile's log of group ${group.slice(0, 16)}… is damaged (${error.code}); remove it from profile.json and fetch it again.`,
    );
  }
  if (head?.group !== group) {
    throw new ProfileCorruptError(
      `The profile holds the log of another group under ${group.slice(0, 16)}…; remove it from profile.json and fetch it again.`,
    );
  }
  const log: GroupLog = { group, entries };
  rebuilt.set(record.entries, log);
  return log;
}

/** The group ids this device holds a log of. */
export function heldGroupIds(profile: Profile): string[] {
  return Object.keys(profile.groups ?? {});
}

/** The name this device last read for a group, if any. */
export function heldGroupName(profile: Profile, group: string): string | undefined {
  return profile.groups?.[group]?.name;
}

/**
 * Keeps a log this device just verified (and the name it read from it, else the one it had): the
 * caller saves the profile. Room is made first (makeGroupRoom: the oldest groups of strangers go);
 * refused past the profile's group count (TOO_MANY_GROUPS) or bytes (GROUP_STORE_FULL).
 */
export function keepGroupLog(
  profile: Profile,
  log: GroupLog,
  name: string | undefined,
  mark: number = streamPlaceKnown(profile),
): void {
  const entries = log.entries.map((verified) => verified.entry);
  makeGroupRoom(profile, log.group, entries);
  const groups = (profile.groups ??= {});
  const { entries: old, name: held, departures: seen, ...marks } = groups[log.group] ?? {};
  const kept = name ?? held;
  // The stream place reached when each departure was first verified here (16.5 step 6).
  const departures = [...(seen ?? [])];
  for (const entry of entries.slice(old?.length ?? 0)) {
    if (entry.op === 'remove' || entry.op === 'leave') departures.push([entry.index, mark]);
  }
  groups[log.group] = {
    ...marks,
    entries,
    ...(kept === undefined ? {} : { name: kept }),
    ...(departures.length === 0 ? {} : { departures }),
  };
  rebuilt.set(entries, log);
}

/** Forgets a group's log (one the relay listed whose verified log does not list this account). */
export function dropGroupLog(profile: Profile, group: string): void {
  if (profile.groups === undefined) return;
  profile.groups = Object.fromEntries(
    Object.entries(profile.groups).filter(([id]) => id !== group),
  );
}

/**
 * Whether a message at stream place `seq` came before the departure at log entry `index`: this
 * device had reached a later place of its stream when it verified that entry (16.5 step 6).
 */
export function beforeDeparture(
  profile: Profile,
  group: string,
  index: number,
  seq: number,
): boolean {
  const mark = profile.groups?.[group]?.departures?.find(([at]) => at === index)?.[1];
  return mark !== undefined && seq <= mark;
}

/**
 * The furthest place of this user's stream this device knows was taken: what it saw in order
 * (seenUpTo), the packets it remembers, and the group messages it showed.
 */
export function streamPlaceKnown(profile: Profile): number {
  let place = profile.seenUpTo;
  for (const [seq] of profile.recentPackets ?? []) place = Math.max(place, seq);
  for (const record of Object.values(profile.groups ?? {}))
    place = Math.max(place, record.readUpTo ?? 0);
  return place;
}
