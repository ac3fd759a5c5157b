import {
  SignatureInvalidError,
  GroupChainBrokenError,
  GroupForkedError,
  GroupFullError,
  GroupMembershipInvalidError,
  GroupNotAdminError,
  GroupNotMemberError,
  GroupRolledBackError,
} from './errors.js';
import {
  GENESIS_PREV,
  groupEntryHash,
  groupEntrySigningBytes,
  groupEntrySize,
  groupIdOf,
  parseGroupEntry,
  type GroupEntry,
} from './group-entry.js';
import {
  assertGroupMemberKey,
  memberSigningKey,
  NO_REPLACED_KEYS,
  type GroupKeyBinding,
  type GroupReplacedKeys,
} from './group-keys.js';
import { base64ToBytes } from './encoding.js';
import { pssVerify } from './rsa.js';
import { MAX_GROUP_LOG_BYTES, MAX_GROUP_LOG_ENTRIES, MAX_GROUP_MEMBERS } from './group-limits.js';
import type { PublicKey } from './keys.js';

/**
 * The public key of an identifier, from the caller's own store (the client's pinned keys, the
 * relay's key directory): never a key that the log or a message names.
 */
export type GroupKeyLookup = (identifier: string) => PublicKey;

/**
 * The state of a group after one verified entry: what every later check is made against. Its
 * `fingerprints` (from GroupKeyBinding) are the key each member was brought in with.
 */
export interface GroupHead extends GroupKeyBinding {
  readonly group: string;
  readonly index: number;
  /** Hash of the entry (section 16.2), the `prev` of the next one. */
  readonly hash: string;
  /** Members after the entry, ascending. */
  readonly members: readonly string[];
  /** Admins after the entry, ascending; a subset of the members. */
  readonly admins: readonly string[];
  /** Index of the latest entry that carries the metadata (create or rename). */
  readonly metaIndex: number;
  /** Bytes of the log up to this entry, as MAX_GROUP_LOG_BYTES counts them (groupEntrySize). */
  readonly bytes: number;
}

/** The state an entry leads to, before its size is added in. */
type GroupState = Omit<GroupHead, 'bytes'>;

/** One verified entry and the state it leads to. */
export interface VerifiedGroupEntry extends GroupHead {
  readonly entry: GroupEntry;
}

/** A whole verified group log, create first. */
export interface GroupLog {
  readonly group: string;
  readonly entries: readonly VerifiedGroupEntry[];
}

function isAscending(list: readonly string[]): boolean {
  for (let i = 1; i < list.length; i++) if ((list[i - 1] ?? '') >= (list[i] ?? '')) return false;
  return true;
}

function invalid(entry: GroupEntry, why: string): GroupMembershipInvalidError {
  return new GroupMembershipInvalidError(`Group log entry ${entry.index} ${why}.`);
}

function requireAdmin(head: GroupHead, entry: GroupEntry): void {
  if (!head.admins.includes(entry.author)) {
    throw new GroupNotAdminError(
      `Group log entry ${entry.index} (${entry.op}) is signed by a member who is not an admin; only admins may add, remove, rename or set admins.`,
    );
  }
}

function linkFirst(entry: GroupEntry): void {
  if (entry.index !== 0 || entry.op !== 'create' || entry.prev !== GENESIS_PREV) {
    throw new GroupChainBrokenError(
      'The group log does not start with its create entry: it is not the log of any group.',
    );
  }
  if (entry.group !== groupIdOf(entry.author, entry.nonce)) {
    throw new GroupChainBrokenError(
      "The group log's create entry names a group id that is not derived from its creator and nonce: someone reused another group's id.",
    );
  }
}

function linkNext(head: GroupHead, entry: GroupEntry): void {
  if (entry.group !== head.group || entry.index !== head.index + 1 || entry.prev !== head.hash) {
    throw new GroupChainBrokenError(
      `Group log entry ${head.index + 1} does not follow entry ${head.index} (another group, place or previous hash): the log was altered.`,
    );
  }
  if (entry.op === 'create') {
    throw new GroupChainBrokenError(`Group log entry ${entry.index} is a second create entry.`);
  }
  if (entry.index >= MAX_GROUP_LOG_ENTRIES) {
    throw new GroupFullError(
      `The group log is at its bound of ${MAX_GROUP_LOG_ENTRIES} entries; start a new group.`,
    );
  }
}

function created(entry: Extract<GroupEntry, { op: 'create' }>, hash: string): GroupState {
  if (!isAscending(entry.members)) throw invalid(entry, 'lists members out of order or twice');
  if (!entry.members.includes(entry.author))
    throw invalid(entry, 'creates a group without its creator');
  if (entry.meta.keys.length !== entry.members.length)
    throw invalid(entry, 'does not wrap the metadata key once for every member');
  if (entry.fingerprints.length !== entry.members.length)
    throw invalid(entry, 'does not name one key fingerprint for every member');
  return {
    group: entry.group,
    index: 0,
    hash,
    members: entry.members,
    fingerprints: entry.fingerprints,
    admins: [entry.author],
    metaIndex: 0,
  };
}

/** The members and their fingerprints without one member. */
function without(head: GroupHead, gone: string): GroupKeyBinding {
  const keep = head.members.map((m, i) => [m, head.fingerprints[i] ?? ''] as const);
  const left = keep.filter(([m]) => m !== gone);
  return { members: left.map(([m]) => m), fingerprints: left.map(([, f]) => f) };
}

/** The members and their fingerprints with one more, in ascending order. */
function withMember(head: GroupHead, member: string, fingerprint: string): GroupKeyBinding {
  const all = [
    ...head.members.map((m, i) => [m, head.fingerprints[i] ?? ''] as const),
    [member, fingerprint] as const,
  ].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { members: all.map(([m]) => m), fingerprints: all.map(([, f]) => f) };
}

function changed(head: GroupHead, entry: GroupEntry, hash: string): GroupState {
  const next = { group: head.group, index: entry.index, hash };
  const { members, fingerprints, admins } = head;
  if (!members.includes(entry.author)) {
    throw new GroupNotMemberError(
      `Group log entry ${entry.index} (${entry.op}) is signed by someone who is not a member of the group.`,
    );
  }
  switch (entry.op) {
    case 'create':
      throw new GroupChainBrokenError(`Group log entry ${entry.index} is a second create entry.`);
    case 'leave':
      return {
        ...next,
        ...without(head, entry.author),
        admins: admins.filter((m) => m !== entry.author),
        metaIndex: head.metaIndex,
      };
    case 'add': {
      requireAdmin(head, entry);
      if (members.includes(entry.member)) throw invalid(entry, 'adds someone who is a member');
      if (members.length >= MAX_GROUP_MEMBERS) {
        throw new GroupFullError(
          `The group has ${MAX_GROUP_MEMBERS} members, its bound: remove someone before adding.`,
        );
      }
      return {
        ...next,
        ...withMember(head, entry.member, entry.fingerprint),
        admins,
        metaIndex: head.metaIndex,
      };
    }
    case 'remove':
      requireAdmin(head, entry);
      if (!members.includes(entry.member)) throw invalid(entry, 'removes someone not a member');
      if (entry.member === entry.author) throw invalid(entry, 'removes its author (leave instead)');
      return {
        ...next,
        ...without(head, entry.member),
        admins: admins.filter((m) => m !== entry.member),
        metaIndex: head.metaIndex,
      };
    case 'rename':
      requireAdmin(head, entry);
      if (entry.meta.keys.length !== members.length)
        throw invalid(entry, 'does not wrap the metadata key once for every member');
      return { ...next, members, fingerprints, admins, metaIndex: entry.index };
    case 'set-admins':
      requireAdmin(head, entry);
      if (!isAscending(entry.admins)) throw invalid(entry, 'lists admins out of order or twice');
      if (!entry.admins.every((a) => members.includes(a)))
        throw invalid(entry, 'makes someone an admin who is not a member');
      return { ...next, members, fingerprints, admins: entry.admins, metaIndex: head.metaIndex };
  }
}

/**
 * Verifies one entry against the state before it (null for the first) and returns the state after
 * it: the link (for a create, its id derived from creator and nonce), the author's signature under
 * its pinned key, that key being the one the log names for the author (GROUP_KEY_MISMATCH), then
 * the membership rules. The relay applies each appended entry with it; clients through updateGroupLog.
 */
export function applyGroupEntry(
  head: GroupHead | null,
  input: unknown,
  keyOf: GroupKeyLookup,
  replacedOf: GroupReplacedKeys = NO_REPLACED_KEYS,
): VerifiedGroupEntry {
  const entry = parseGroupEntry(input);
  if (head === null) linkFirst(entry);
  else linkNext(head, entry);
  const signing = groupEntrySigningBytes(entry);
  bytesAfter(head, signing);
  const sig = base64ToBytes(entry.sig, 'sig');
  const signer = memberSigningKey(
    keyOf(entry.author),
    replacedOf(entry.author),
    entry.time,
    (key) => pssVerify(key.keyObject, signing, sig),
  );
  if (signer === undefined) {
    throw new SignatureInvalidError(
      `Group log entry ${entry.index} is not signed by the member it names: it was forged or altered.`,
    );
  }
  const state = advance(head, entry, signing);
  assertGroupMemberKey(
    head === null ? state : head,
    entry.author,
    signer.key,
    `the author of group log entry ${entry.index},`,
    signer.replaced,
  );
  return { ...state, entry };
}

/** The log's bytes after an entry: GROUP_FULL past MAX_GROUP_LOG_BYTES. */
function bytesAfter(head: GroupHead | null, signing: Uint8Array): number {
  const bytes = (head?.bytes ?? 0) + groupEntrySize(signing);
  if (bytes > MAX_GROUP_LOG_BYTES) {
    throw new GroupFullError(
      `The group log is at its bound of ${MAX_GROUP_LOG_BYTES} bytes; start a new group.`,
    );
  }
  return bytes;
}

function advance(
  head: GroupHead | null,
  entry: GroupEntry,
  signing: Uint8Array = groupEntrySigningBytes(entry),
): GroupHead {
  const bytes = bytesAfter(head, signing);
  const hash = groupEntryHash(entry, signing);
  if (head === null) {
    if (entry.op !== 'create')
      throw new GroupChainBrokenError('The group log has no create entry.');
    return { ...created(entry, hash), bytes };
  }
  return { ...changed(head, entry, hash), bytes };
}

/**
 * The state after an entry that was verified before (a store re-reading its own log at start):
 * the link and the rules again, but not the signature or the author's key.
 */
export function replayGroupEntry(head: GroupHead | null, entry: GroupEntry): GroupHead {
  if (head === null) linkFirst(entry);
  else linkNext(head, entry);
  return advance(head, entry);
}

function parsedRun(served: readonly unknown[]): GroupEntry[] {
  if (served.length > MAX_GROUP_LOG_ENTRIES) {
    throw new GroupFullError(`The relay served over ${MAX_GROUP_LOG_ENTRIES} group log entries.`);
  }
  const entries = served.map(parseGroupEntry);
  const start = entries[0]?.index ?? 0;
  entries.forEach((entry, i) => {
    if (entry.index !== start + i) {
      throw new GroupChainBrokenError(
        `The relay served group log entries out of order (entry ${entry.index} at place ${start + i}).`,
      );
    }
  });
  return entries;
}

/**
 * Where a device asks the relay for a group log from (section 16.4): its own head (0 with none),
 * so that every honest page reaches the head and a short answer is a real rollback.
 */
export function groupLogFetchFrom(known: GroupLog | null): number {
  return known === null ? 0 : groupHead(known).index;
}

/**
 * Takes one page the relay served for a group, from any entry up to the one after the head this
 * device already verified (`known`; null for a first fetch), and returns the verified log: an entry
 * that differs from a known one is GROUP_FORKED, a page that stops before the known head
 * GROUP_ROLLBACK. Call it once per page, each page asked from groupLogFetchFrom(log so far).
 * `expectedGroup` is the group the device asked for (required: a first fetch has nothing else to
 * hold the relay to).
 */
export function updateGroupLog(
  known: GroupLog | null,
  served: readonly unknown[],
  keyOf: GroupKeyLookup,
  expectedGroup: string,
  replacedOf: GroupReplacedKeys = NO_REPLACED_KEYS,
): GroupLog {
  if (known !== null && known.group !== expectedGroup) {
    throw new GroupForkedError('The log this device holds is of another group than the one asked.');
  }
  const entries = parsedRun(served);
  const have = known?.entries ?? [];
  const first = entries[0];
  if (first === undefined) {
    if (known === null) throw new GroupChainBrokenError('The relay served an empty group log.');
    throw rolledBack(known);
  }
  if (first.index > have.length) {
    throw new GroupChainBrokenError(
      `The relay served the group log from entry ${first.index}, past the ${have.length} entries this device holds.`,
    );
  }
  if (first.group !== expectedGroup) {
    if (known !== null) throw new GroupForkedError('The relay served the log of another group.');
    throw new GroupChainBrokenError(
      'The relay served the log of another group than the one asked.',
    );
  }
  const out = have.slice(0, first.index);
  for (const entry of entries) {
    const mine = have[entry.index];
    if (mine !== undefined) {
      if (groupEntryHash(entry) !== mine.hash) {
        throw new GroupForkedError(
          `Group log entry ${entry.index} differs from the one this device verified: the relay shows members different logs.`,
        );
      }
      out.push(mine);
    } else {
      const last = out.at(-1);
      if (last !== undefined && entry.index === have.length && entry.prev !== last.hash) {
        throw new GroupForkedError(
          `Group log entry ${entry.index} follows a different entry ${last.index} than the one this device verified: the relay shows members different logs.`,
        );
      }
      out.push(applyGroupEntry(last ?? null, entry, keyOf, replacedOf));
    }
  }
  if (known !== null && out.length < have.length) throw rolledBack(known);
  const group = out[0]?.group ?? first.group;
  return { group, entries: out };
}

function rolledBack(known: GroupLog): GroupRolledBackError {
  return new GroupRolledBackError(
    `The relay served a group log that ends before the ${known.entries.length} entries this device already verified: it is hiding changes.`,
  );
}

/** The latest verified state of a log. */
export function groupHead(log: GroupLog): VerifiedGroupEntry {
  const head = log.entries.at(-1);
  if (head === undefined) throw new GroupChainBrokenError('The group log is empty.');
  return head;
}
