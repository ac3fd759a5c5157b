import type { DeletionStatement } from './account-deletion.js';
import type { PresenceUpdate } from './events.js';
import type { GroupEntry } from './group-entry.js';
import type { GroupKeyBinding } from './group-keys.js';
import type { GroupHead } from './group-log.js';
import type { GroupPacket } from './group-sign.js';
import type { KdfParams } from './password-keys.js';
import type { Packet } from './packet.js';
import type { KeyRotation, ReplacedKey } from './key-rotation.js';
import type { CredentialsStatement } from './password-change.js';
import type { WrappedPrivateKey } from './private-key-wrap.js';

/** One entry of the key directory: all the server knows of a user, none of it secret. */
export interface UserRecord {
  readonly identifier: string;
  readonly publicKey: string;
  readonly wrappedPrivateKey: WrappedPrivateKey;
  readonly kdf: KdfParams;
  /** Hex SHA-256 of the login proof; the proof itself is never stored. */
  readonly loginProofHash: string;
  readonly createdAt: number;
  /** The signed statement of the last password change or KDF upgrade; absent until the first. */
  readonly credentials?: CredentialsStatement | undefined;
  /** The newest key rotation statements (at most MAX_KEPT_ROTATIONS), oldest first; absent until the first. */
  readonly rotations?: readonly KeyRotation[] | undefined;
  /** Replaced key pairs, wrapped like the current one, newest first (at most MAX_KEPT_ROTATIONS). */
  readonly replacedKeys?: readonly ReplacedKey[] | undefined;
}

/** What a password change or KDF upgrade replaces in a key directory entry. */
export type NewCredentials = Pick<
  UserRecord,
  'kdf' | 'wrappedPrivateKey' | 'loginProofHash' | 'credentials' | 'replacedKeys'
>;

/** What a key rotation replaces in a key directory entry. */
export type RotatedKey = Pick<
  UserRecord,
  'publicKey' | 'wrappedPrivateKey' | 'credentials' | 'rotations' | 'replacedKeys'
>;

/**
 * What the relay keeps of a deleted account (a tombstone): enough to refuse the identifier's
 * registration until `retiredUntil`, and to show the owner's signed deletion statement. No wrap,
 * no KDF parameters, no proof hash.
 */
export interface RetiredIdentifier {
  readonly identifier: string;
  /** The account key the deletion statement is signed with (base64 SPKI). */
  readonly publicKey: string;
  readonly deletion: DeletionStatement;
  /** The relay's clock at the deletion, and until when the identifier may not be registered. */
  readonly deletedAt: number;
  readonly retiredUntil: number;
}

/** The key directory, declared here so the relay logic never depends on how it is stored. */
export interface KeyDirectory {
  /** The entry of an identifier, as stored now (credentials may change: no stale copy). */
  get(identifier: string): Promise<UserRecord | undefined>;
  /** Adds a user; resolves false if the identifier is taken, true once durably stored. */
  create(record: UserRecord): Promise<boolean>;
  /**
   * Replaces the credentials if the stored proof hash and public key are still the expected ones
   * (compare and set, so two concurrent changes cannot both win); resolves true once durably stored.
   */
  replaceCredentials(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    next: NewCredentials,
  ): Promise<boolean>;
  /**
   * Replaces the key pair if the stored public key and proof hash are still the expected ones
   * (compare and set); resolves true once durably stored.
   */
  rotateKey(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    next: RotatedKey,
  ): Promise<boolean>;
  /**
   * Deletes the account if its stored public key and proof hash are still the expected ones
   * (compare and set), together with what the relay holds privately for it (its delivery cursor and
   * presence), and keeps the tombstone, as one change (docs/storage.md); resolves true once durable.
   */
  retire(
    identifier: string,
    expected: { publicKey: string; loginProofHash: string },
    tombstone: RetiredIdentifier,
  ): Promise<boolean>;
  /** The tombstone of a deleted identifier still retired at `now`, or undefined. */
  retirement(identifier: string, now: number): Promise<RetiredIdentifier | undefined>;
  /** How many users are registered. */
  count(): Promise<number>;
}

/** A stored packet with its place in the sender's and the recipient's streams. */
export interface StoredRecord {
  /** Position in the whole log, 0-based. */
  readonly pos: number;
  readonly serverTime: number;
  readonly seqFrom: number;
  /** Equal to seqFrom for a note to self, which takes one place in one stream. */
  readonly seqTo: number;
  readonly packet: Packet;
}

/**
 * A stored group message (docs/protocol.md 16.5): one copy, with a place in the stream of every
 * member at the head it names, the sender included.
 */
export interface StoredGroupRecord {
  readonly kind: 'group';
  /** Position in the whole log, 0-based: group messages and packets share it. */
  readonly pos: number;
  readonly serverTime: number;
  /** The members at the message's head, ascending; the sender is one of them. */
  readonly members: readonly string[];
  /** Each member's place in its stream, in the order of `members`. */
  readonly seqs: readonly number[];
  readonly packet: GroupPacket;
}

/** Anything a stream holds: a packet's record or a group message's. */
export type StoredStreamRecord = StoredRecord | StoredGroupRecord;

/** Whether a stored record is a group message's. */
export function isStoredGroupRecord(record: StoredStreamRecord): record is StoredGroupRecord {
  return 'kind' in record;
}

/** A member's place in a stored group message's stream entry; undefined for a non-member. */
export function groupSeqOf(record: StoredGroupRecord, identifier: string): number | undefined {
  const i = record.members.indexOf(identifier);
  return i < 0 ? undefined : record.seqs[i];
}

/** The outcome of storing a group message: its record (or what holds its id), and whether it was stored before. */
export interface GroupAppendOutcome {
  readonly record: StoredStreamRecord;
  readonly duplicate: boolean;
}

/**
 * What the store saw of a conversation as it stored a new packet between two identifiers, so the
 * relay pushes the packet without asking the store again.
 */
export interface PairState {
  /** No packet from this sender to this recipient was stored before: this one made the contact. */
  readonly firstContact: boolean;
  /**
   * The recipient had written to the sender (a two-way conversation), as the append saw it: a reply
   * stored at the same moment may be missed, a conversation is never invented.
   */
  readonly twoWay: boolean;
  /** The recipient's delivery cursor as the append saw it. */
  readonly delivered: number;
}

/** The outcome of appending: the record, and whether its id was already stored. */
export interface AppendResult {
  /** The stored record of the packet's id: a group message's if that id holds one. */
  readonly record: StoredStreamRecord;
  readonly duplicate: boolean;
  /** For a new packet (not a duplicate) to another identifier; absent for a note to self. */
  readonly pair?: PairState;
  /**
   * For a new packet, when the store serialized it anyway: `JSON.stringify(record.packet)`, so the
   * push reuses it instead of encoding the packet a second time.
   */
  readonly packetJson?: string;
}

/** What a receipt needs of each packet it newly covers: no body, so nothing is read from disk. */
export interface Delivery {
  readonly id: string;
  readonly from: string;
  /** The packet's place in the sender's stream. */
  readonly seqFrom: number;
}

/** One page of records, oldest first, and whether more lie beyond it. */
export interface RecordPage {
  readonly records: readonly StoredStreamRecord[];
  readonly more: boolean;
}

/**
 * The primary store, declared here so the relay runs on lowdb or PostgreSQL behind the same shape.
 * Every method is asynchronous: a store may have to ask a database server.
 */
export interface MessageStore {
  /**
   * Stores a packet once (idempotent on its id) and resolves only once it is durable. A new packet
   * counts against its sender's quota (`QUOTA_EXCEEDED`) and is refused when the disk is down to its
   * free-space floor (`STORAGE_FULL`); a resend of a stored packet is always acknowledged.
   */
  append(packet: Packet, serverTime: number): Promise<AppendResult>;
  /**
   * Stores a group message once (idempotent on its id; packet ids and group message ids are one
   * space) with a place in the stream of each of `members` (ascending, the sender among them),
   * in one commit, and resolves once it is durable. Quota and free-space floor as `append`.
   */
  appendGroup(
    packet: GroupPacket,
    members: readonly string[],
    serverTime: number,
  ): Promise<GroupAppendOutcome>;
  /**
   * The stored record of a packet id, for a store that can tell without a round trip to a server
   * (lowdb's in-memory index): lets the relay acknowledge a byte-identical resend without checking
   * its signature again. A store without it has every resend verified.
   */
  storedRecord?(id: string): Promise<StoredStreamRecord | undefined>;
  /**
   * Records of an identifier's stream with a sequence number above `after`, oldest first: at most
   * `limit`, and no more than `maxBytes` of stored records (at least one), cut before reading.
   */
  since(identifier: string, after: number, limit: number, maxBytes?: number): Promise<RecordPage>;
  /**
   * The last `limit` records between two identifiers before a sequence number of the first, oldest
   * first, and no more than `maxBytes` of stored records (the newest kept; at least one).
   */
  conversation(
    identifier: string,
    peer: string,
    before: number | undefined,
    limit: number,
    maxBytes?: number,
  ): Promise<RecordPage>;
  /**
   * The last `limit` group messages of a group in the identifier's stream before a sequence number
   * of it, oldest first, cut by bytes as `conversation` is.
   */
  groupConversation(
    identifier: string,
    group: string,
    before: number | undefined,
    limit: number,
    maxBytes?: number,
  ): Promise<RecordPage>;
  /** Everyone the identifier shares a conversation with. */
  peersOf(identifier: string): Promise<readonly string[]>;
  /**
   * Moves the identifier's delivery cursor forward; resolves to the packets of others it newly
   * covers, from the index alone (a receipt never loads packets).
   */
  acknowledge(identifier: string, upTo: number): Promise<readonly Delivery[]>;
  /** The highest sequence number of the identifier's stream that a device acknowledged. */
  deliveredUpTo(identifier: string): Promise<number>;
  setPresence(update: PresenceUpdate): Promise<void>;
  getPresence(identifier: string): Promise<PresenceUpdate | undefined>;
  /** How many packets the store holds. */
  size(): Promise<number>;
  /** Finishes pending writes and releases the files. */
  close(): Promise<void>;
}

/** One page of a group log, oldest first, and whether more entries follow. */
export interface GroupEntryPage {
  readonly entries: readonly GroupEntry[];
  readonly more: boolean;
}

/**
 * The relay's copy of every group log (docs/protocol.md section 16), on lowdb files or PostgreSQL.
 * The relay verifies each entry before it appends; the store only keeps them in order.
 */
export interface GroupStore {
  /** The group's head, or undefined if no create was stored for it. */
  head(group: string): Promise<GroupHead | undefined>;
  /** Whether the identifier is or was a member (so it may read the log, and learn of its removal). */
  wasMember(group: string, identifier: string): Promise<boolean>;
  /**
   * Ids of the groups the identifier is a member of at their head, ascending, after `after`: at most
   * `limit`, and whether more follow.
   */
  groupsOf(
    identifier: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ groups: string[]; more: boolean }>;
  /**
   * Appends the entry after the head at `previousIndex` (undefined: the create of a new group) and
   * makes `head` the group's head, durably; resolves false, writing nothing, if the head is no
   * longer there (another append won, or the group exists).
   */
  append(entry: GroupEntry, head: GroupHead, previousIndex: number | undefined): Promise<boolean>;
  /**
   * The members and their logged fingerprints after entry `index` (at most the head's), from what
   * the store keeps of the membership: no log replay.
   */
  membersAt(group: string, index: number): Promise<GroupKeyBinding | undefined>;
  /** Entries from index `from` on: at most `limit`, and no more than `maxBytes` of JSON (at least one). */
  entries(group: string, from: number, limit: number, maxBytes: number): Promise<GroupEntryPage>;
  /** Finishes pending writes. */
  close(): Promise<void>;
}
