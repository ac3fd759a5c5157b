import { AmbiguousGroupError, UnknownGroupError } from '../cli-errors.js';
import { heldGroupIds, heldGroupName } from '../profile/group-store.js';
import type { Profile } from '../profile/profile.js';
import { oneLine } from '../terminal/terminal-text.js';

/** Fewest hex digits a group id prefix must have, so a short word is taken as a name. */
export const MIN_GROUP_PREFIX = 4;

const GROUP_ID = /^[0-9a-f]{64}$/;
const PREFIX = /^[0-9a-f]+$/;

/**
 * Reads a group from the command line: its whole id (64 hex, held here or not: a device that holds
 * nothing fetches it), a prefix of a held group's id (at least MIN_GROUP_PREFIX digits), or the name
 * this device read for it (exactly, else in another case). Two groups answering is AMBIGUOUS_GROUP,
 * none UNKNOWN_GROUP.
 */
export function parseGroupAddress(address: string, profile: Profile): string {
  const trimmed = address.trim();
  const lowered = trimmed.toLowerCase();
  if (GROUP_ID.test(lowered)) return lowered;
  const ids = heldGroupIds(profile);
  const byPrefix =
    lowered.length >= MIN_GROUP_PREFIX && PREFIX.test(lowered)
      ? ids.filter((id) => id.startsWith(lowered))
      : [];
  let byName = ids.filter((id) => heldGroupName(profile, id) === trimmed);
  if (byName.length === 0)
    byName = ids.filter((id) => heldGroupName(profile, id)?.toLowerCase() === lowered);
  const found = [...new Set([...byPrefix, ...byName])];
  const shown = `"${oneLine(trimmed.slice(0, 80))}"`;
  if (found.length === 1 && found[0] !== undefined) return found[0];
  if (found.length > 1) {
    const list = found
      .slice(0, 5)
      .map((id) => `${id.slice(0, 16)}… (${oneLine(heldGroupName(profile, id) ?? 'no name')})`)
      .join(', ');
    throw new AmbiguousGroupError(
      `${shown} names ${found.length} groups: ${list}. Give more of the id ("metachat group list" shows them).`,
    );
  }
  throw new UnknownGroupError(
    `${shown} is no group this device holds: give its name, a prefix of its id (${MIN_GROUP_PREFIX}+ hex digits) or its whole 64-hex id ("metachat group list" shows them).`,
  );
}

/** How `send` and `history` are told a group from a peer: no peer address holds a colon. */
export const GROUP_TARGET_PREFIX = 'group:';

/**
 * A `send` or `history` target: `group:<group>` (the group as parseGroupAddress reads it), else
 * null for a peer. Usernames and aliases never hold a colon, so neither can be taken for the other.
 */
export function parseGroupTarget(target: string, profile: Profile): string | null {
  const trimmed = target.trim();
  if (!trimmed.toLowerCase().startsWith(GROUP_TARGET_PREFIX)) return null;
  return parseGroupAddress(trimmed.slice(GROUP_TARGET_PREFIX.length), profile);
}
