import type { GroupEntry } from '../../core/index.js';
import { MAX_PROFILE_GROUPS, type GroupRecord, type Profile } from './profile-schema.js';

/**
 * Most bytes of group log entries (as profile.json holds them, JSON) one profile keeps. A log at
 * the protocol's bound (8 MiB counted as signing bytes and signatures) is about 11 MiB of JSON, so
 * 64 MiB holds five such logs next to any number of ordinary ones; the profile is read whole.
 */
export const MAX_PROFILE_GROUP_BYTES = 64 * 1024 * 1024;

/** Most groups of strangers (groups the user never engaged with, see strangerGroup) one profile keeps. */
export const MAX_STRANGER_GROUPS = 20;

/** Most bytes of log entries the groups of strangers together keep: one log at the bound fits. */
export const MAX_STRANGER_GROUP_BYTES = 16 * 1024 * 1024;

/** The bounds keepGroupLog applies (tests pass smaller ones). */
export interface GroupBudget {
  readonly groups: number;
  readonly bytes: number;
  readonly strangerGroups: number;
  readonly strangerBytes: number;
}

/** The bounds of a real profile. */
export const PROFILE_GROUP_BUDGET: GroupBudget = {
  groups: MAX_PROFILE_GROUPS,
  bytes: MAX_PROFILE_GROUP_BYTES,
  strangerGroups: MAX_STRANGER_GROUPS,
  strangerBytes: MAX_STRANGER_GROUP_BYTES,
};

/** This device holds as many groups as a profile may: it keeps no log of another one. */
export class TooManyGroupsError extends Error {
  override readonly name = 'TooManyGroupsError';
}

/** Keeping this log would pass the profile's byte bound for group logs (or the strangers' share). */
export class GroupStoreFullError extends Error {
  override readonly name = 'GroupStoreFullError';
}

/** Sizes of entry lists already measured (records keep their arrays until they change). */
const sizes = new WeakMap<readonly GroupEntry[], number>();

/** The bytes a list of entries takes in profile.json. */
export function entriesBytes(entries: readonly GroupEntry[]): number {
  let size = sizes.get(entries);
  if (size === undefined) {
    size = Buffer.byteLength(JSON.stringify(entries));
    sizes.set(entries, size);
  }
  return size;
}

/** The bytes of group logs a profile holds. */
export function profileGroupBytes(profile: Profile): number {
  let total = 0;
  for (const record of Object.values(profile.groups ?? {})) total += entriesBytes(record.entries);
  return total;
}

/** A peer the user chose: verified, given an alias, or written to (a hello sent). */
function knownPeer(profile: Profile, id: string): boolean {
  const peer = profile.peers[id];
  return peer?.verified === true || peer?.alias !== undefined || peer?.helloSent === true;
}

/**
 * A group the user never engaged with: they did not open it (`history` showed none of its
 * messages), never sent to it (no hello), wrote none of its entries, and it was not a known
 * peer's entry that made them a member. Anyone can make such a group list the user.
 */
export function strangerGroup(profile: Profile, entries: readonly GroupEntry[]): boolean {
  const me = profile.identifier;
  for (const entry of entries) {
    if (entry.author === me) return false;
    const addsMe =
      (entry.op === 'create' && entry.members.includes(me)) ||
      (entry.op === 'add' && entry.member === me);
    if (addsMe && knownPeer(profile, entry.author)) return false;
  }
  return true;
}

/** Whether a held record is a stranger's group (engagement marks in the record count too). */
function strangerRecord(profile: Profile, record: GroupRecord): boolean {
  if ((record.readUpTo ?? 0) > 0 || record.helloAt !== undefined) return false;
  return strangerGroup(profile, record.entries);
}

/** Groups of strangers held, oldest kept first, other than `except`. */
function strangers(profile: Profile, except: string): string[] {
  return Object.entries(profile.groups ?? {})
    .filter(([id, record]) => id !== except && strangerRecord(profile, record))
    .map(([id]) => id);
}

/**
 * Makes room in the profile for `entries` of group `group`, or refuses: the oldest groups of
 * strangers (never `group`, never one the user engaged with) are dropped until the stranger bounds
 * (when `group` is a stranger's), the group count and the byte bound all hold. Returns the ids
 * dropped. TOO_MANY_GROUPS or GROUP_STORE_FULL when no stranger's group is left to drop.
 */
export function makeGroupRoom(
  profile: Profile,
  group: string,
  entries: readonly GroupEntry[],
  budget: GroupBudget = PROFILE_GROUP_BUDGET,
): string[] {
  const groups = profile.groups ?? {};
  const size = entriesBytes(entries);
  const isNew = groups[group] === undefined;
  const record = groups[group];
  const stranger =
    record === undefined ? strangerGroup(profile, entries) : strangerRecord(profile, record);
  if (stranger && size > budget.strangerBytes) {
    throw new GroupStoreFullError(
      `Group ${group.slice(0, 16)}… (made by a stranger) has ${size} bytes of log, over the ${budget.strangerBytes} strangers' groups may keep.`,
    );
  }
  const queue = strangers(profile, group);
  const dropped: string[] = [];
  const others = (): string[] => Object.keys(profile.groups ?? {}).filter((id) => id !== group);
  const bytesOf = (ids: string[]): number =>
    ids.reduce((sum, id) => sum + entriesBytes(profile.groups?.[id]?.entries ?? []), 0);
  const fits = (): boolean => {
    const rest = queue.slice(dropped.length);
    if (
      stranger &&
      (rest.length + 1 > budget.strangerGroups || bytesOf(rest) + size > budget.strangerBytes)
    )
      return false;
    const kept = others().filter((id) => !dropped.includes(id));
    return kept.length + 1 <= budget.groups && bytesOf(kept) + size <= budget.bytes;
  };
  while (!fits()) {
    const next = queue[dropped.length];
    if (next === undefined) {
      const kept = others().filter((id) => !dropped.includes(id)).length;
      if (isNew && kept + 1 > budget.groups)
        throw new TooManyGroupsError(
          `This device holds the logs of ${budget.groups} groups, as many as a profile keeps.`,
        );
      throw new GroupStoreFullError(
        `Keeping the log of group ${group.slice(0, 16)}… (${size} bytes) would pass the ${budget.bytes} bytes of group logs a profile keeps.`,
      );
    }
    dropped.push(next);
  }
  if (dropped.length > 0)
    profile.groups = Object.fromEntries(
      Object.entries(groups).filter(([id]) => !dropped.includes(id)),
    );
  return dropped;
}
