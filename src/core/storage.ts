import type { StoredPacket, PacketPage, PresenceUpdate } from './events.js';
import type { KdfParams } from './password-keys.js';
import type { Packet } from './packet.js';
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
}

/** The key directory, declared here so the relay logic never depends on how it is stored. */
export interface KeyDirectory {
  get(identifier: string): Promise<UserRecord | undefined>;
  /** Adds a user; resolves false if the identifier is taken, true once durably stored. */
  create(record: UserRecord): Promise<boolean>;
  count(): Promise<number>;
}

/** The outcome of appending a packet: its sequence number, and whether it was a resend. */
export interface AppendResult {
  readonly stored: StoredPacket;
  readonly duplicate: boolean;
}

/** The primary store of packets and presence, declared here so lowdb can later give way to PostgreSQL. */
export interface MessageStore {
  /** Stores a packet once (idempotent on its id) and resolves only once it is durable. */
  append(packet: Packet, serverTime: number): Promise<AppendResult>;
  /** Packets to or from an identifier with a sequence number above `after`, oldest first. */
  since(identifier: string, after: number, limit: number): Promise<PacketPage>;
  /** One page of the conversation between two identifiers, before a sequence number, oldest first. */
  conversation(
    identifier: string,
    peer: string,
    before: number | undefined,
    limit: number,
  ): Promise<PacketPage>;
  setPresence(update: PresenceUpdate): Promise<void>;
  getPresence(identifier: string): Promise<PresenceUpdate | undefined>;
  close(): Promise<void>;
}
