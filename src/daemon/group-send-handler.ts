import {
  assertGroupMemberKey,
  decodeGroupPacketBytes,
  groupEntryHash,
  GroupHeadUnknownError,
  GroupMembershipInvalidError,
  GroupNotMemberError,
  groupPacketSchema,
  GroupSenderRemovedError,
  groupSeqOf,
  isStoredGroupRecord,
  parseGroupPacket,
  RelayError,
  verifyGroupPacketSignature,
  type GroupKeyBinding,
  type GroupPacket,
  type PublicKey,
  type StoredGroupRecord,
} from '../core/index.js';
import { me } from './message-handlers.js';
import {
  publicKeyOf,
  roomOf,
  withCurrentKey,
  type RelayContext,
  type Session,
} from './relay-context.js';
import { StoreCorruptError } from './store-corrupt-error.js';
import { replacedKeysOf } from './group-replaced-keys.js';

/** Every field of a group message, from its schema: a field added later is compared too. */
const GROUP_PACKET_FIELDS = Object.keys(groupPacketSchema.shape) as (keyof GroupPacket)[];

/** Whether two parsed group messages are equal in every field (the keys list element by element). */
function sameGroupPacket(a: GroupPacket, b: GroupPacket): boolean {
  return GROUP_PACKET_FIELDS.every((field) => {
    const x = a[field];
    const y = b[field];
    if (Array.isArray(x) && Array.isArray(y)) {
      return x.length === y.length && x.every((key, i) => key === y[i]);
    }
    return x === y;
  });
}

/** The sender's place in a stored group message (the relay put it there). */
function senderSeq(record: StoredGroupRecord): number {
  const seq = groupSeqOf(record, record.packet.from);
  if (seq === undefined) {
    throw new StoreCorruptError('stream', `group record ${record.pos} has no place for its sender`);
  }
  return seq;
}

/**
 * The members (and their logged keys) at the head a message names, if that head is in the stored
 * log with that hash: GROUP_HEAD_UNKNOWN otherwise.
 */
async function membersAtNamedHead(
  ctx: RelayContext,
  packet: GroupPacket,
): Promise<{ at: GroupKeyBinding; current: GroupKeyBinding }> {
  const unknown = () =>
    new GroupHeadUnknownError(
      `This relay holds no group log entry ${packet.headIndex} with the hash the message names: fetch the group log, then seal the message again for its head.`,
    );
  const current = await ctx.groups.head(packet.group);
  if (current === undefined || packet.headIndex > current.index) throw unknown();
  if (packet.headIndex === current.index) {
    if (current.hash !== packet.head) throw unknown();
    return { at: current, current };
  }
  const { entries } = await ctx.groups.entries(
    packet.group,
    packet.headIndex,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const entry = entries[0];
  if (entry === undefined || groupEntryHash(entry) !== packet.head) throw unknown();
  const at = await ctx.groups.membersAt(packet.group, packet.headIndex);
  if (at === undefined) throw unknown();
  return { at, current };
}

/**
 * `group-send`: checks a group message as a member will (the sender's signature under its
 * registered key, that key the one the log names, the sender a member at the head it names and
 * one key per member there) and, at the relay's current head, that the sender was not removed
 * since (GROUP_SENDER_REMOVED); then stores it once, with a place in the stream of every member
 * at its head, and pushes it to each of them (the sender's other connections included).
 */
export async function groupSend(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<{ seq: number; serverTime: number; duplicate: boolean }> {
  const sender = me(session);
  const packet = parseGroupPacket(input);
  if (packet.from !== sender) {
    throw new RelayError(
      'FORBIDDEN_SENDER',
      'A group message must come from the identifier this connection authenticated as.',
    );
  }
  // A resend equal in every field to the stored one was checked when it was first stored.
  const earlier = await ctx.store.storedRecord?.(packet.id);
  if (earlier && isStoredGroupRecord(earlier) && sameGroupPacket(earlier.packet, packet)) {
    return { seq: senderSeq(earlier), serverTime: earlier.serverTime, duplicate: true };
  }
  const bytes = decodeGroupPacketBytes(packet);
  let senderKey: PublicKey | undefined;
  await withCurrentKey(ctx, sender, (key) => {
    if (!key)
      throw new RelayError('UNKNOWN_IDENTIFIER', 'The sender is not registered on this relay.');
    verifyGroupPacketSignature(packet, key, bytes);
    senderKey = key;
  });
  if (senderKey === undefined)
    throw new RelayError('UNKNOWN_IDENTIFIER', 'The sender is not registered on this relay.');
  const { at, current } = await membersAtNamedHead(ctx, packet);
  if (!at.members.includes(sender)) {
    throw new GroupNotMemberError(
      `You were not a member at group log entry ${packet.headIndex}, which the message names: you cannot write to this group.`,
    );
  }
  assertGroupMemberKey(at, sender, senderKey, 'the sender', await replacedKeysOf(ctx, sender));
  if (packet.keys.length !== at.members.length) {
    throw new GroupMembershipInvalidError(
      `The group had ${at.members.length} members at entry ${packet.headIndex}, and the message carries ${packet.keys.length} keys: seal it again with one key per member.`,
    );
  }
  if (!current.members.includes(sender)) {
    throw new GroupSenderRemovedError(
      'You are no longer a member of this group (removed, or you left): the relay refuses your messages to it.',
    );
  }
  const { record, duplicate } = await ctx.store.appendGroup(
    packet,
    await livingMembers(ctx, at.members, sender),
    Date.now(),
  );
  if (
    !isStoredGroupRecord(record) ||
    record.packet.from !== sender ||
    (duplicate && !sameGroupPacket(record.packet, packet))
  ) {
    throw new RelayError(
      'PACKET_ID_TAKEN',
      'Another packet or group message already uses this id; seal the message again.',
    );
  }
  if (!duplicate) pushGroupRecord(ctx, session, record);
  return { seq: senderSeq(record), serverTime: record.serverTime, duplicate };
}

/**
 * The members a group message gets a place for: those with an account (the sender always). A member
 * whose account was deleted keeps its key in the log until an admin removes it, but no device of it
 * can fetch anything, and a later owner of the name must not find these in its stream.
 */
async function livingMembers(
  ctx: RelayContext,
  members: readonly string[],
  sender: string,
): Promise<string[]> {
  const living: string[] = [];
  for (const member of members) {
    if (member === sender || (await publicKeyOf(ctx, member)) !== undefined) living.push(member);
  }
  return living;
}

/** Pushes a stored group message to every member's connections, each with its own seq. */
function pushGroupRecord(ctx: RelayContext, session: Session, record: StoredGroupRecord): void {
  record.members.forEach((member, i) => {
    const seq = record.seqs[i];
    if (seq === undefined) return;
    const view = { seq, serverTime: record.serverTime, groupMessage: record.packet };
    if (member === record.packet.from) {
      // The sender's other connections; Socket.IO encodes a broadcast before it looks for sockets.
      if (ctx.clustered || (ctx.registry.local.get(member)?.size ?? 0) > 1) {
        session.socket.to(roomOf(member)).emit('packet', view);
      }
    } else if (ctx.clustered || ctx.registry.local.has(member)) {
      ctx.io.to(roomOf(member)).emit('packet', view);
    }
  });
}
