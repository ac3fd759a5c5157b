import {
  applyGroupEntry,
  groupEntryHash,
  groupListRequestSchema,
  groupLogRequestSchema,
  MAX_GROUP_LIST_PAGE,
  MAX_GROUP_LOG_PAGE_BYTES,
  MAX_GROUP_LOG_PAGE_ENTRIES,
  parseGroupEntry,
  parseWire,
  RelayError,
  GroupChainBrokenError,
  GroupNotMemberError,
  type GroupAppendResult,
  type GroupEntry,
  type GroupHead,
  type GroupListPage,
  type GroupLogPage,
  type PublicKey,
} from '../core/index.js';
import { me, oneRead } from './message-handlers.js';
import { deletedRefusal } from './delete-account-handler.js';
import { replacedKeysOf } from './group-replaced-keys.js';
import { publicKeyOf, roomOf, type RelayContext, type Session } from './relay-context.js';

/** Entries in a `group-log` page when the client does not ask for a number. */
const DEFAULT_GROUP_LOG_LIMIT = 100;

function headOf(entry: GroupHead & { entry?: GroupEntry }): GroupHead {
  const { group, index, hash, members, fingerprints, admins, metaIndex, bytes } = entry;
  return { group, index, hash, members, fingerprints, admins, metaIndex, bytes };
}

/** Identifiers an entry brings into the group: each must be registered. */
function newcomers(entry: GroupEntry): readonly string[] {
  if (entry.op === 'create') return entry.members;
  if (entry.op === 'add') return [entry.member];
  return [];
}

/** The answer to an entry already stored at its index: the same entry again, or a stale head. */
async function storedAgain(ctx: RelayContext, entry: GroupEntry): Promise<GroupAppendResult> {
  const { entries } = await ctx.groups.entries(
    entry.group,
    entry.index,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const stored = entries[0];
  const hash = groupEntryHash(entry);
  if (stored !== undefined && groupEntryHash(stored) === hash) {
    return { index: entry.index, hash, duplicate: true };
  }
  throw new GroupChainBrokenError(
    entry.index === 0
      ? 'A group with this id exists already; create the group again (a new id).'
      : `The group changed since entry ${entry.index - 1}: fetch its log and make the change again.`,
  );
}

/**
 * `group-append`: checks a group log entry as every member will (its link to the stored head, its
 * author's registered key, the membership rules), stores it durably, then pushes it to every member
 * before and after it. Defence in depth: clients verify the log themselves.
 */
export async function groupAppend(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<GroupAppendResult> {
  const author = me(session);
  const entry = parseGroupEntry(input);
  if (entry.author !== author) {
    throw new RelayError(
      'FORBIDDEN_SENDER',
      'A group log entry must be signed by the identifier this connection authenticated as.',
    );
  }
  const head = await ctx.groups.head(entry.group);
  if (head !== undefined && entry.index <= head.index) return storedAgain(ctx, entry);
  for (const identifier of newcomers(entry)) {
    if (!(await publicKeyOf(ctx, identifier))) {
      throw (
        (await deletedRefusal(ctx, identifier, 'it cannot be added to a group.')) ??
        new RelayError(
          'UNKNOWN_IDENTIFIER',
          'A member of this change is not registered on this relay.',
        )
      );
    }
  }
  const authorKey = await publicKeyOf(ctx, author);
  if (!authorKey)
    throw new RelayError('UNKNOWN_IDENTIFIER', 'The author is not registered on this relay.');
  const keyOf = (): PublicKey => authorKey;
  // A member who rotated its key signs with the new one; the log may still name the key it replaced.
  const replaced = await replacedKeysOf(ctx, author);
  const next = headOf(applyGroupEntry(head ?? null, entry, keyOf, () => replaced));
  if (!(await ctx.groups.append(entry, next, head?.index))) return storedAgain(ctx, entry);
  const told = new Set([...(head?.members ?? []), ...next.members]);
  for (const member of told) {
    if (ctx.clustered || ctx.registry.local.has(member)) {
      ctx.io.to(roomOf(member)).emit('group-entry', entry);
    }
  }
  return { index: next.index, hash: next.hash, duplicate: false };
}

/**
 * `group-log`: one page of a group's log, for anyone who is or was a member (a removed member may
 * read the entry that removed it). Pages are cut at 256 entries and 2 MiB, always one entry at least.
 */
export async function groupLog(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<GroupLogPage> {
  const identifier = me(session);
  const { group, from, limit } = parseWire(groupLogRequestSchema, input, 'group-log');
  if (!(await ctx.groups.wasMember(group, identifier))) {
    throw new GroupNotMemberError('You are not, and never were, a member of this group.');
  }
  const page = await oneRead(ctx, session, () =>
    ctx.groups.entries(
      group,
      from ?? 0,
      Math.min(limit ?? DEFAULT_GROUP_LOG_LIMIT, MAX_GROUP_LOG_PAGE_ENTRIES),
      MAX_GROUP_LOG_PAGE_BYTES,
    ),
  );
  return { entries: [...page.entries], more: page.more };
}

/**
 * `group-list`: the ids of the groups whose log, at the relay's head, lists the caller, ascending,
 * after `after`, 100 a page: how a new device finds its groups. Its clients verify each log.
 */
export async function groupList(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<GroupListPage> {
  const identifier = me(session);
  const { after } = parseWire(groupListRequestSchema, input, 'group-list');
  return oneRead(ctx, session, () => ctx.groups.groupsOf(identifier, after, MAX_GROUP_LIST_PAGE));
}
