import { AES_KEY_BYTES, GCM_IV_BYTES, gcmDecrypt, gcmEncrypt } from './aes-gcm.js';
import { decodeBody, encodeBody, type Body } from './body.js';
import { bytesToBase64, bytesToHex } from './encoding.js';
import {
  DecryptionFailedError,
  GroupForkedError,
  GroupHeadUnknownError,
  GroupMembershipInvalidError,
  GroupNotMemberError,
  GroupSenderRemovedError,
  NotAddressedToMeError,
  OversizeError,
  SignatureInvalidError,
  UnsupportedVersionError,
  UsernameMismatchError,
} from './errors.js';
import {
  assertGroupMemberKey,
  assertGroupNamesMyKey,
  memberSigningKey,
  NO_REPLACED_KEYS,
  type GroupReplacedKeys,
} from './group-keys.js';
import { MAX_GROUP_BODY_BYTES } from './group-limits.js';
import { unwrapWithMyKeys, type GroupReaderKeys } from './group-meta.js';
import {
  groupHead,
  type GroupKeyLookup,
  type GroupLog,
  type VerifiedGroupEntry,
} from './group-log.js';
import {
  decodeGroupPacketBytes,
  groupPacketAad,
  groupPacketSchema,
  groupPacketSigningBytes,
  groupPacketSignedBy,
  type GroupPacket,
  type GroupPacketBytes,
  type GroupPacketHeader,
} from './group-sign.js';
import { usernameMatchesIdentifier } from './identity.js';
import type { KeyPair } from './keys.js';
import { PROTOCOL_VERSION } from './labels.js';
import { PACKET_ID_BYTES } from './packet.js';
import { systemRandom, type RandomSource } from './random.js';
import { oaepEncrypt, pssSign } from './rsa.js';
import { parseWire, timestampSchema } from './schemas.js';

/** Parses a group message from untrusted input; a future version is told apart from garbage. */
export function parseGroupPacket(input: unknown): GroupPacket {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const version = (input as { v?: unknown }).v;
    if (typeof version === 'number' && Number.isInteger(version) && version !== PROTOCOL_VERSION) {
      throw new UnsupportedVersionError(
        `The group message uses protocol version ${version}; this build speaks ${PROTOCOL_VERSION}. Update MetaChat.`,
      );
    }
  }
  return parseWire(groupPacketSchema, input, 'group message');
}

/** Who sends what to which group, with the log the sender verified and its pinned keys. */
export interface GroupSealInput {
  readonly sender: { readonly identifier: string; readonly keyPair: KeyPair };
  readonly log: GroupLog;
  /** Each other member's key from the sender's pinned store. */
  readonly keyOf: GroupKeyLookup;
  /** The keys each member (the sender too) replaced by a rotation the sender checked (16.1). */
  readonly replacedOf?: GroupReplacedKeys;
  readonly body: Body;
}

/**
 * Encrypts a body once for every member at the head of the sender's verified log (the sender
 * included), then signs every field: the one way a client makes a group message. Every member's
 * key must be the one the log names for it (GROUP_KEY_MISMATCH, naming the member who blocks).
 */
export function sealGroupMessage(
  input: GroupSealInput,
  options: { readonly random?: RandomSource; readonly now?: () => number } = {},
): GroupPacket {
  const random = options.random ?? systemRandom;
  const head = groupHead(input.log);
  const me = input.sender.identifier;
  if (!head.members.includes(me)) {
    throw new GroupNotMemberError(
      'You are not a member of this group at its head: you cannot send to it.',
    );
  }
  const plaintext = encodeBody(input.body);
  if (plaintext.length > MAX_GROUP_BODY_BYTES) {
    throw new OversizeError(`A group message body is at most ${MAX_GROUP_BODY_BYTES} bytes.`);
  }
  const header: GroupPacketHeader = {
    v: PROTOCOL_VERSION,
    id: bytesToHex(random(PACKET_ID_BYTES)),
    group: head.group,
    from: me,
    headIndex: head.index,
    head: head.hash,
    time: parseWire(timestampSchema, (options.now ?? Date.now)(), 'time'),
  };
  const replacedOf = input.replacedOf ?? NO_REPLACED_KEYS;
  assertGroupNamesMyKey(head, {
    identifier: me,
    publicKey: input.sender.keyPair.publicKey,
    replaced: replacedOf(me),
  });
  const memberKeys = head.members.map((member) => {
    if (member === me) return input.sender.keyPair.publicKey;
    const key = input.keyOf(member);
    assertGroupMemberKey(head, member, key, 'member', replacedOf(member));
    return key;
  });
  const messageKey = random(AES_KEY_BYTES);
  const iv = random(GCM_IV_BYTES);
  const bytes: GroupPacketBytes = {
    iv,
    ct: gcmEncrypt(messageKey, iv, plaintext, groupPacketAad(header)),
    keys: memberKeys.map((key) => oaepEncrypt(key.keyObject, messageKey)),
  };
  const sig = pssSign(
    input.sender.keyPair.privateKey.keyObject,
    groupPacketSigningBytes(header, bytes),
  );
  return {
    ...header,
    iv: bytesToBase64(bytes.iv),
    ct: bytesToBase64(bytes.ct),
    keys: bytes.keys.map(bytesToBase64),
    sig: bytesToBase64(sig),
  };
}

/** A verified, decrypted group message, and how its head stands against the reader's log. */
export interface OpenedGroupPacket {
  readonly packet: GroupPacket;
  readonly body: Body;
  readonly direction: 'incoming' | 'outgoing';
  /** The log entry the sender encrypted for. */
  readonly head: VerifiedGroupEntry;
  /** Whether that entry is the head of the reader's log (false: the sender had not seen later changes). */
  readonly current: boolean;
  /** Members at the sender's head who are no longer members: they could read this message too. */
  readonly formerMembers: readonly string[];
  /** Members now who were not at the sender's head: they cannot read it. */
  readonly newMembers: readonly string[];
}

/** Who opens a group message, with the log it verified and its pinned keys. */
export interface GroupOpenInput {
  readonly packet: unknown;
  readonly reader: GroupReaderKeys;
  readonly log: GroupLog;
  readonly keyOf: GroupKeyLookup;
  /** The keys each member replaced by a rotation the reader checked (16.1); none if absent. */
  readonly replacedOf?: GroupReplacedKeys;
  /**
   * Whether the message is ordered before the log entry at this index (the sender's departure) in
   * the reader's own verified stream (16.5 step 6); absent: never, as for a message it cannot place.
   */
  readonly precedesDeparture?: (index: number) => boolean;
}

function headFor(packet: GroupPacket, log: GroupLog): VerifiedGroupEntry {
  const entry = packet.group === log.group ? log.entries[packet.headIndex] : undefined;
  if (entry === undefined) {
    throw new GroupHeadUnknownError(
      `This group message was encrypted for group log entry ${packet.headIndex}, which this device has not verified: fetch the log, then open it again.`,
    );
  }
  if (entry.hash !== packet.head) {
    throw new GroupForkedError(
      `The sender encrypted for a different group log entry ${packet.headIndex} than the one this device verified: the relay shows members different logs.`,
    );
  }
  return entry;
}

/** Whether a sender who is not a member now wrote before its first departure after `from`. */
function beforeDeparture(input: GroupOpenInput, sender: string, from: number): boolean {
  const departure = input.log.entries.findIndex(
    (entry, index) => index > from && !entry.members.includes(sender),
  );
  return departure > 0 && input.precedesDeparture?.(departure) === true;
}

/**
 * Verifies the sender's signature under its pinned key first, then that the head it names is in
 * the reader's verified log and the sender a member there and still a member at the reader's head
 * (GROUP_SENDER_REMOVED: a removed member naming an old head), then decrypts the reader's key and
 * the body: fails closed at each step.
 */
export function openGroupMessage(input: GroupOpenInput): OpenedGroupPacket {
  const packet = parseGroupPacket(input.packet);
  const bytes = decodeGroupPacketBytes(packet);
  const signer = memberSigningKey(
    input.keyOf(packet.from),
    (input.replacedOf ?? NO_REPLACED_KEYS)(packet.from),
    packet.time,
    (key) => groupPacketSignedBy(packet, key, bytes),
  );
  if (signer === undefined) {
    throw new SignatureInvalidError(
      'This group message is not signed by the member it names: it was forged or altered in transit.',
    );
  }
  const head = headFor(packet, input.log);
  assertGroupMemberKey(head, packet.from, signer.key, 'the sender', signer.replaced);
  if (!head.members.includes(packet.from)) {
    throw new GroupNotMemberError(
      'This group message is from someone who was not a member at the log entry it names; it is not shown.',
    );
  }
  if (packet.keys.length !== head.members.length) {
    throw new GroupMembershipInvalidError(
      'This group message does not carry one key for each member at its log entry; it is not shown.',
    );
  }
  const latest = groupHead(input.log);
  if (!latest.members.includes(packet.from) && !beforeDeparture(input, packet.from, head.index)) {
    throw new GroupSenderRemovedError(
      `This group message is from someone who is no longer a member at entry ${latest.index} of the group log (removed, or left), though it names entry ${head.index} where they were; it is not shown.`,
    );
  }
  const me = input.reader.identifier;
  const position = head.members.indexOf(me);
  const wrapped = bytes.keys[position];
  if (wrapped === undefined) {
    throw new NotAddressedToMeError(
      'This group message was encrypted for members that did not include you (before you joined).',
    );
  }
  const messageKey = unwrapWithMyKeys(input.reader, wrapped);
  if (messageKey?.length !== AES_KEY_BYTES) {
    throw new DecryptionFailedError(
      'Your key in this group message does not decrypt with your key.',
    );
  }
  const plaintext = gcmDecrypt(messageKey, bytes.iv, bytes.ct, groupPacketAad(packet));
  if (plaintext === null)
    throw new DecryptionFailedError('The group message body does not decrypt.');
  const body = decodeBody(plaintext);
  if (body.type === 'hello' && !usernameMatchesIdentifier(body.username, packet.from)) {
    throw new UsernameMismatchError(
      'The sender offered a username that does not match its identifier; it is not shown.',
    );
  }
  const now = latest.members;
  return {
    packet,
    body,
    direction: packet.from === me ? 'outgoing' : 'incoming',
    head,
    current: head.index === input.log.entries.length - 1,
    formerMembers: head.members.filter((m) => !now.includes(m)),
    newMembers: now.filter((m) => !head.members.includes(m)),
  };
}
