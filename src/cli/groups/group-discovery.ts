import { groupHead, MAX_GROUP_LIST_PAGE, MetaChatError } from '../../core/index.js';
import { dropGroupLog, GroupStoreFullError, TooManyGroupsError } from '../profile/group-store.js';
import { MAX_PROFILE_GROUPS } from '../profile/profile-schema.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';
import { GroupKeyring } from './group-keyring.js';
import { syncGroupLog } from './group-sync.js';

/** Most `group-list` pages one run asks for: the profile keeps MAX_PROFILE_GROUPS groups. */
const MAX_LIST_PAGES = Math.ceil(MAX_PROFILE_GROUPS / MAX_GROUP_LIST_PAGE) + 1;

/**
 * Most listed groups one run may fail to take (a log refused, or one that does not list this
 * account) before discovery stops: each costs a whole log fetch and verification, and a relay that
 * lists bogus ids is not followed further (the next run tries again).
 */
export const MAX_DISCOVERY_FAILURES = 8;

/** A `group-list` page whose ids are not strictly ascending after the one asked from. */
export class GroupListUnorderedError extends Error {
  override readonly name = 'GroupListUnorderedError';
  readonly code = 'GROUP_LIST_UNORDERED';
}

/** Checks a page's ids are strictly ascending, and all after `after` (GROUP_LIST_UNORDERED). */
export function assertListOrder(groups: readonly string[], after: string | undefined): void {
  let last = after;
  for (const group of groups) {
    if (last !== undefined && group <= last) {
      throw new GroupListUnorderedError(
        `The relay's group-list page lists ${group.slice(0, 16)}… after ${last.slice(0, 16)}…: ids must be strictly ascending.`,
      );
    }
    last = group;
  }
}

/**
 * Groups the relay says list this account that this device does not hold yet (a second device): each
 * log is fetched and verified from its create entry; one whose verified head does not list this
 * account is said and dropped (the relay's word alone never makes a group). A page out of order,
 * a full profile, or MAX_DISCOVERY_FAILURES failures end the run with a line, never a failure.
 */
export async function discoverGroups(
  session: Session,
  notify: (line: string) => void,
): Promise<void> {
  let after: string | undefined;
  let failures = 0;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const listed = await session.client.groupList(after);
    try {
      assertListOrder(listed.groups, after);
    } catch (error) {
      if (!(error instanceof GroupListUnorderedError)) throw error;
      notify(`!! ${error.code}: ${error.message}`);
      return;
    }
    for (const group of listed.groups) {
      if (session.profile.groups?.[group] !== undefined) continue;
      if (Object.keys(session.profile.groups ?? {}).length >= MAX_PROFILE_GROUPS) return;
      if (failures >= MAX_DISCOVERY_FAILURES) {
        notify(
          `!! ${failures} groups the relay listed failed to verify: looking for more stops here for this run.`,
        );
        return;
      }
      try {
        const log = await syncGroupLog(session, new GroupKeyring(session), group);
        if (groupHead(log).members.includes(session.account.identifier)) continue;
      } catch (error) {
        if (error instanceof TooManyGroupsError || error instanceof GroupStoreFullError) {
          notify(`!! group ${group.slice(0, 16)}… not kept: ${error.message}`);
          return;
        }
        if (!(error instanceof MetaChatError) && !(error instanceof RelayRefusedError)) throw error;
        notify(`!! group ${group.slice(0, 16)}…: ${error.code}: ${error.message}`);
      }
      failures++;
      dropGroupLog(session.profile, group);
      notify(
        `!! the relay lists group ${group.slice(0, 16)}… as yours, but its verified log does not.`,
      );
    }
    after = listed.groups.at(-1);
    if (!listed.more || after === undefined) return;
  }
}
