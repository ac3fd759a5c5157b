import {
  assertGroupNamesMyKey,
  groupHead,
  groupLogFetchFrom,
  MAX_GROUP_LOG_ENTRIES,
  MAX_GROUP_LOG_PAGE_ENTRIES,
  MetaChatError,
  openGroupMeta,
  updateGroupLog,
  type GroupEntry,
  type GroupLog,
} from '../../core/index.js';
import { heldGroupLog, keepGroupLog } from '../profile/group-store.js';
import type { Session } from '../relay/session.js';
import type { GroupKeyring } from './group-keyring.js';

/** Most pages one fetch asks for: a whole log at the bound, one entry at a time, and a margin. */
const MAX_PAGES = MAX_GROUP_LOG_ENTRIES + 2;

/** The name a member reads from the log (undefined: not a member now, or unreadable: the old one stays). */
function readName(keyring: GroupKeyring, log: GroupLog): string | undefined {
  const reader = keyring.readerKeys();
  if (!groupHead(log).members.includes(reader.identifier)) return undefined;
  try {
    return openGroupMeta(log, reader).name;
  } catch (error) {
    if (error instanceof MetaChatError) return undefined;
    throw error;
  }
}

/**
 * Keeps a log this device verified, with the name read from it, then checks that the log names
 * this device's own key (GROUP_KEY_MISMATCH: whoever added it was given a wrong one). The log is
 * kept first, so a fork or rollback is still recognised next time.
 */
function keep(session: Session, keyring: GroupKeyring, log: GroupLog, mark?: number): GroupLog {
  keepGroupLog(session.profile, log, readName(keyring, log), mark);
  const head = groupHead(log);
  keyring.pinMembers(head);
  assertGroupNamesMyKey(head, {
    identifier: session.account.identifier,
    publicKey: session.account.keyPair.publicKey,
    replaced: keyring.replacedOf(session.account.identifier),
  });
  return log;
}

/**
 * Brings this device's log of a group up to the relay's (docs/protocol.md 16.4): asks from its own
 * head, one page at a time, each verified against what it holds (GROUP_FORKED, GROUP_ROLLBACK,
 * GROUP_CHAIN_BROKEN, signatures under pinned keys), until a page brings nothing new. What was
 * verified is kept in the profile even when a later page is refused.
 */
export async function syncGroupLog(
  session: Session,
  keyring: GroupKeyring,
  group: string,
  mark?: number,
): Promise<GroupLog> {
  let log = heldGroupLog(session.profile, group);
  try {
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const from = groupLogFetchFrom(log);
      const page = await session.client.groupLog(group, from, MAX_GROUP_LOG_PAGE_ENTRIES);
      const held = log?.entries.length ?? 0;
      const authors = page.entries.filter((e) => e.index >= held).map((e) => e.author);
      await keyring.prefetch(authors);
      const before = log;
      log = await keyring.retried(authors, () =>
        updateGroupLog(before, page.entries, keyring.lookup, group, keyring.replacedOf),
      );
      if (log.entries.length === held || !page.more) break;
    }
  } catch (error) {
    if (log !== null) keep(session, keyring, log, mark);
    throw error;
  }
  if (log === null) throw new Error('unreachable: a group log fetch ended without a log');
  return keep(session, keyring, log, mark);
}

/** The log with an entry this device made and the relay stored, verified like any other. */
export function applyOwnEntry(
  session: Session,
  keyring: GroupKeyring,
  log: GroupLog | null,
  entry: GroupEntry,
): GroupLog {
  const next = updateGroupLog(log, [entry], keyring.lookup, entry.group, keyring.replacedOf);
  return keep(session, keyring, next);
}

/**
 * A `group-entry` push, taken in as the log says (never alone): the next entry after this device's
 * head is verified against it, anything else (a group not held yet, a gap) makes it fetch the log
 * from its head; an entry at a place it holds must be the one it verified (GROUP_FORKED). Returns
 * the entries that are new here, oldest first.
 */
export async function takeGroupPush(
  session: Session,
  keyring: GroupKeyring,
  entry: GroupEntry,
): Promise<{ log: GroupLog; added: GroupLog['entries'] }> {
  const held = heldGroupLog(session.profile, entry.group);
  const before = held?.entries.length ?? 0;
  let log: GroupLog;
  if (held !== null && entry.index <= before) {
    await keyring.prefetch([entry.author]);
    const next = await keyring.retried([entry.author], () =>
      updateGroupLog(held, [entry], keyring.lookup, entry.group, keyring.replacedOf),
    );
    log = keep(session, keyring, next);
  } else {
    log = await syncGroupLog(session, keyring, entry.group);
  }
  return { log, added: log.entries.slice(before) };
}
