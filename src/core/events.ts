import { z } from 'zod';
import { authProofSchema } from './auth.js';
import type { WireError } from './errors.js';
import { kdfParamsSchema, type KdfParams, KDF_SUBKEY_BYTES } from './password-keys.js';
import type { Packet } from './packet.js';
import { wrappedPrivateKeySchema, type WrappedPrivateKey } from './private-key-wrap.js';
import { base64Bytes, identifierSchema, packetIdSchema } from './schemas.js';

/** Longest base64 public key accepted on the wire (RSA-2048 SPKI DER is 294 bytes). */
const MAX_PUBLIC_KEY_CHARS = 1024;
/** Most packets in one sync or history page. */
export const MAX_PAGE_SIZE = 500;

/** `register`: everything the key directory stores; the password itself never travels. */
export const registerRequestSchema = z.strictObject({
  identifier: identifierSchema,
  publicKey: z.string().max(MAX_PUBLIC_KEY_CHARS),
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

/** `history`: one page of one conversation, before a position. */
export const historyRequestSchema = z.strictObject({
  peer: identifierSchema,
  before: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
});

/** `receipt`: a device confirms it received a packet. */
export const receiptRequestSchema = z.strictObject({ id: packetIdSchema });

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
  readonly seq: number;
  readonly serverTime: number;
  readonly packet: Packet;
}

/** One page of packets and where the next page starts. */
export interface PacketPage {
  readonly packets: readonly StoredPacket[];
  readonly more: boolean;
}

/** Presence of one identifier, pushed to those who share a conversation with it. */
export interface PresenceUpdate {
  readonly identifier: string;
  readonly online: boolean;
  readonly lastSeen: number;
}

/** Events a client emits; payloads are `unknown` to the daemon until parsed by the schemas above. */
export interface ClientToServerEvents {
  register: (request: RegisterRequest, ack: (response: Ack) => void) => void;
  prelogin: (request: PreloginRequest, ack: (response: Ack<{ kdf: KdfParams }>) => void) => void;
  login: (
    request: LoginRequest,
    ack: (response: Ack<{ publicKey: string; wrappedPrivateKey: WrappedPrivateKey }>) => void,
  ) => void;
  challenge: (ack: (response: Ack<{ nonce: string }>) => void) => void;
  authenticate: (request: AuthenticateRequest, ack: (response: Ack) => void) => void;
  key: (request: KeyRequest, ack: (response: Ack<{ publicKey: string }>) => void) => void;
  send: (
    packet: Packet,
    ack: (response: Ack<{ seq: number; serverTime: number; duplicate: boolean }>) => void,
  ) => void;
  sync: (request: SyncRequest, ack: (response: Ack<PacketPage>) => void) => void;
  history: (request: HistoryRequest, ack: (response: Ack<PacketPage>) => void) => void;
  receipt: (request: ReceiptRequest, ack: (response: Ack) => void) => void;
}

/** Events the daemon pushes to authenticated sockets. */
export interface ServerToClientEvents {
  packet: (stored: StoredPacket) => void;
  presence: (update: PresenceUpdate) => void;
  delivered: (receipt: { readonly id: string; readonly to: string }) => void;
}
