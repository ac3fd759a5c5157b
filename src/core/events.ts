import {
  credentialsStatementSchema,
  type ChangePasswordRequest,
  type CredentialsStatement,
} from './password-change.js';
import { z } from 'zod';
import type { DeleteAccountRequest, DeletionResult } from './account-deletion.js';
import { authNonceSchema, authProofSchema } from './auth.js';
import type { WireError } from './errors.js';
import { publicKeySchema } from './keys.js';
import {
  replacedKeysSchema,
  rotationChainSchema,
  type KeyRotation,
  type ReplacedKey,
} from './key-rotation.js';
import type { RotateKeyRequest } from './rotate-key-request.js';
import { packetSchema } from './packet.js';
import { kdfParamsSchema, type KdfParams, KDF_SUBKEY_BYTES } from './password-keys.js';
import type { Packet } from './packet.js';
import type { GroupEntry } from './group-entry.js';
import type {
  GroupAppendResult,
  GroupListPage,
  GroupListRequest,
  GroupLogPage,
  GroupLogRequest,
} from './group-events.js';
import { groupIdSchema } from './group-entry.js';
import { groupPacketSchema, type GroupPacket } from './group-sign.js';
import { wrappedPrivateKeySchema, type WrappedPrivateKey } from './private-key-wrap.js';
import {
  base64Bytes,
  identifierSchema,
  packetIdSchema,
  parseWire,
  timestampSchema,
} from './schemas.js';

/** Most packets in one sync or history page. */
export const MAX_PAGE_SIZE = 500;

/** `register`: everything the key directory stores; the password itself never travels. */
export const registerRequestSchema = z.strictObject({
  identifier: identifierSchema,
  publicKey: publicKeySchema,
  wrappedPrivateKey: wrappedPrivateKeySchema,
  kdf: kdfParamsSchema,
  loginProof: base64Bytes(KDF_SUBKEY_BYTES),
});

/** `prelogin`: which identifier's KDF parameters to fetch. */
export const preloginRequestSchema = z.strictObject({ identifier: identifierSchema });

/** `login`: the password-derived proof, exchanged for the wrapped private key. */
export const loginRequestSchema = z.strictObject({
  identifier: identifierSchema,
  loginProof: base64Bytes(KDF_SUBKEY_BYTES),
});

/** `authenticate`: a signature over the nonce this socket was challenged with. */
export const authenticateRequestSchema = z.strictObject({
  identifier: identifierSchema,
  proof: authProofSchema,
});

/** `key`: whose public key to fetch. */
export const keyRequestSchema = z.strictObject({ identifier: identifierSchema });

/** `sync`: every packet to or from me after a cursor, one page at a time. */
export const syncRequestSchema = z.strictObject({
  after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  limit: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
});

/** `history`: one page of one conversation (with a peer, or in a group), before a position. */
export const historyRequestSchema = z.union([
  z.strictObject({
    peer: identifierSchema,
    before: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    limit: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
  }),
  z.strictObject({
    group: groupIdSchema,
    before: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    limit: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
  }),
]);

/** `receipt`: a device confirms it holds every packet of its stream up to a sequence number. */
export const receiptRequestSchema = z.strictObject({
  upTo: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

/** Requests, as parsed on the daemon side. */
export type RegisterRequest = z.infer<typeof registerRequestSchema>;
export type PreloginRequest = z.infer<typeof preloginRequestSchema>;
export type LoginRequest = z.infer<typeof loginRequestSchema>;
export type AuthenticateRequest = z.infer<typeof authenticateRequestSchema>;
export type KeyRequest = z.infer<typeof keyRequestSchema>;
export type SyncRequest = z.infer<typeof syncRequestSchema>;
export type HistoryRequest = z.infer<typeof historyRequestSchema>;
export type ReceiptRequest = z.infer<typeof receiptRequestSchema>;

/** Every acknowledgement: a result, or a refusal carrying a code and an actionable message. */
export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: WireError };

/** A packet as the server stored it: its per-user sequence number and the server's clock. */
export interface StoredPacket {
  /** Position in the reader's own stream: 1, 2, 3, … with no gaps, so a client can spot drops. */
  readonly seq: number;
  readonly serverTime: number;
  readonly packet: Packet;
  /** For the sender's own packets: whether a device of the recipient has acknowledged it. */
  readonly delivered?: boolean | undefined;
}

/** A group message as the server stored it: one copy, at a place in every member's stream. */
export interface StoredGroupPacket {
  /** Position in the reader's own stream, counted with its packets. */
  readonly seq: number;
  readonly serverTime: number;
  readonly groupMessage: GroupPacket;
}

/** One record of a stream: a packet (section 7) or a group message (section 16.5). */
export type StreamRecord = StoredPacket | StoredGroupPacket;

/** Whether a stream record carries a group message (else a packet). */
export function isGroupRecord(record: StreamRecord): record is StoredGroupPacket {
  return 'groupMessage' in record;
}

/** One page of stream records and where the next page starts. */
export interface PacketPage {
  readonly packets: readonly StreamRecord[];
  readonly more: boolean;
}

/** Presence of one identifier, pushed to those who share a conversation with it. */
export interface PresenceUpdate {
  readonly identifier: string;
  readonly online: boolean;
  readonly lastSeen: number;
}

/** Tells a sender that the recipient's device acknowledged one of its packets. */
export interface DeliveredNotice {
  readonly id: string;
  readonly to: string;
  /** The packet's position in the sender's own stream. */
  readonly seq: number;
}

/** Events a client emits; payloads are `unknown` to the daemon until parsed by the schemas above. */
export interface ClientToServerEvents {
  register: (request: RegisterRequest, ack: (response: Ack) => void) => void;
  prelogin: (request: PreloginRequest, ack: (response: Ack<{ kdf: KdfParams }>) => void) => void;
  login: (
    request: LoginRequest,
    ack: (
      response: Ack<{
        publicKey: string;
        wrappedPrivateKey: WrappedPrivateKey;
        credentials?: CredentialsStatement;
        replacedKeys?: ReplacedKey[];
      }>,
    ) => void,
  ) => void;
  'change-password': (request: ChangePasswordRequest, ack: (response: Ack) => void) => void;
  'rotate-key': (request: RotateKeyRequest, ack: (response: Ack) => void) => void;
  'delete-account': (request: DeleteAccountRequest, ack: (response: Ack) => void) => void;
  deletion: (request: KeyRequest, ack: (response: Ack<DeletionResult>) => void) => void;
  challenge: (ack: (response: Ack<{ nonce: string }>) => void) => void;
  authenticate: (request: AuthenticateRequest, ack: (response: Ack) => void) => void;
  key: (
    request: KeyRequest,
    ack: (response: Ack<{ publicKey: string; rotations?: KeyRotation[] }>) => void,
  ) => void;
  send: (
    packet: Packet,
    ack: (response: Ack<{ seq: number; serverTime: number; duplicate: boolean }>) => void,
  ) => void;
  'group-send': (
    message: GroupPacket,
    ack: (response: Ack<{ seq: number; serverTime: number; duplicate: boolean }>) => void,
  ) => void;
  sync: (request: SyncRequest, ack: (response: Ack<PacketPage>) => void) => void;
  history: (request: HistoryRequest, ack: (response: Ack<PacketPage>) => void) => void;
  receipt: (request: ReceiptRequest, ack: (response: Ack) => void) => void;
  'group-append': (entry: GroupEntry, ack: (response: Ack<GroupAppendResult>) => void) => void;
  'group-log': (request: GroupLogRequest, ack: (response: Ack<GroupLogPage>) => void) => void;
  'group-list': (request: GroupListRequest, ack: (response: Ack<GroupListPage>) => void) => void;
}

/** Events the daemon pushes to authenticated sockets. */
export interface ServerToClientEvents {
  /** A packet or a group message was stored: its record as the receiving user's stream holds it. */
  packet: (stored: StreamRecord) => void;
  presence: (update: PresenceUpdate) => void;
  delivered: (receipt: DeliveredNotice) => void;
  /** A group log entry was appended: to every member before and after it. */
  'group-entry': (entry: GroupEntry) => void;
}

const seqSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** A pushed or paged packet, as a client parses it from the relay. */
export const storedPacketSchema = z.strictObject({
  seq: seqSchema,
  serverTime: timestampSchema,
  packet: packetSchema,
  delivered: z.boolean().optional(),
});

/** A pushed or paged group message (section 16.5), as a client parses it from the relay. */
export const storedGroupPacketSchema = z.strictObject({
  seq: seqSchema,
  serverTime: timestampSchema,
  groupMessage: groupPacketSchema,
});

/** Any stream record: a packet or a group message, told apart by their fields. */
export const streamRecordSchema = z.union([storedPacketSchema, storedGroupPacketSchema]);

/** A `sync` or `history` page. */
export const packetPageSchema = z.strictObject({
  packets: z.array(streamRecordSchema).max(MAX_PAGE_SIZE),
  more: z.boolean(),
});

/** A `presence` push. */
export const presenceUpdateSchema = z.strictObject({
  identifier: identifierSchema,
  online: z.boolean(),
  lastSeen: timestampSchema,
});

/** A `delivered` push. */
export const deliveredNoticeSchema = z.strictObject({
  id: packetIdSchema,
  to: identifierSchema,
  seq: seqSchema,
});

/** The refusal inside an error acknowledgement. */
export const wireErrorSchema = z.strictObject({
  code: z
    .string()
    .max(40)
    .refine((code) => /^[A-Z_]+$/.test(code), { message: 'is not an error code' }),
  message: z.string().max(1000),
});

/** Results of each request, as a client parses them. */
export const emptyResultSchema = z.strictObject({});
export const preloginResultSchema = z.strictObject({ kdf: kdfParamsSchema });
export const loginResultSchema = z.strictObject({
  publicKey: publicKeySchema,
  wrappedPrivateKey: wrappedPrivateKeySchema,
  /** The signed statement of the last password change; absent until the first. */
  credentials: credentialsStatementSchema.optional(),
  /** The account's replaced key pairs, wrapped, newest first; absent until the first rotation. */
  replacedKeys: replacedKeysSchema.optional(),
});
export const challengeResultSchema = z.strictObject({ nonce: authNonceSchema });
export const keyResultSchema = z.strictObject({
  publicKey: publicKeySchema,
  /** The newest key rotation statements, oldest first, the last one introducing `publicKey`. */
  rotations: rotationChainSchema.optional(),
});
export const sendResultSchema = z.strictObject({
  seq: seqSchema,
  serverTime: timestampSchema,
  duplicate: z.boolean(),
});

/** Any acknowledgement: a success carrying a result (parsed next by its own schema) or a refusal. */
export const ackEnvelopeSchema = z.union([
  z.looseObject({ ok: z.literal(true) }),
  z.strictObject({ ok: z.literal(false), error: wireErrorSchema }),
]);

/** Parses an acknowledgement from `unknown`: the result, or null with the refusal. */
export function parseAck<T>(
  schema: z.ZodType<T>,
  response: unknown,
  what: string,
): { ok: true; result: T } | { ok: false; error: WireError } {
  const envelope = parseWire(ackEnvelopeSchema, response, what);
  if (!envelope.ok) return { ok: false, error: envelope.error };
  const { ok: _ok, ...result } = envelope;
  return { ok: true, result: parseWire(schema, result, what) };
}
