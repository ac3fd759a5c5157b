import {
  MetaChatError,
  replayGroupEntry,
  type GroupHead,
  type GroupLog,
  type VerifiedGroupEntry,
} from '../../core/index.js';
import { MAX_PROFILE_GROUPS, type GroupRecord, type Profile } from './profile-schema.js';
import { ProfileCorruptError } from './profile.js';

/** This device holds as many groups as a profile may: it keeps no log of another one. */
export class TooManyGroupsError extends Error {
  override readonly name = 'TooManyGroupsError';
}

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
 * caller saves the profile. Refused past MAX_PROFILE_GROUPS groups.
 */
export function keepGroupLog(profile: Profile, log: GroupLog, name: string | undefined): void {
  const groups = (profile.groups ??= {});
  if (groups[log.group] === undefined && Object.keys(groups).length >= MAX_PROFILE_GROUPS) {
    throw new TooManyGroupsError(
      `This device holds the logs of ${MAX_PROFILE_GROUPS} groups, as many as a profile keeps.`,
    );
  }
  const { entries: _old, name: held, ...marks } = groups[log.group] ?? {};
  const kept = name ?? held;
  const entries = log.entries.map((verified) => verified.entry);
  groups[log.group] = { ...marks, entries, ...(kept === undefined ? {} : { name: kept }) };
  rebuilt.set(entries, log);
}

/** Forgets a group's log (one the relay listed whose verified log does not list this account). */
export function dropGroupLog(profile: Profile, group: string): void {
  if (profile.groups === undefined) return;
  profile.groups = Object.fromEntries(
    Object.entries(profile.groups).filter(([id]) => id !== group),
  );
}
