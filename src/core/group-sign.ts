import { z } from 'zod';
import { GCM_IV_BYTES, GCM_TAG_BYTES } from './aes-gcm.js';
import { framedBytes, uint64Bytes } from './canonical-bytes.js';
import { base64ToBytes, hexToBytes } from './encoding.js';
import { SignatureInvalidError } from './errors.js';
import { entryHashSchema, groupIdSchema, wrappedKeySchema } from './group-entry.js';
import { MAX_GROUP_CT_BYTES, MAX_GROUP_MEMBERS } from './group-limits.js';
import type { PublicKey } from './keys.js';
import { LABELS, PROTOCOL_VERSION } from './labels.js';
import { RSA_BYTES, pssVerify } from './rsa.js';
import { base64Bytes, identifierSchema, packetIdSchema, timestampSchema } from './schemas.js';

/**
 * A group message (section 16.4): one ciphertext, its key wrapped for every member at the log head
 * it names (ascending identifier order), signed over every field.
 */
export const groupPacketSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  id: packetIdSchema,
  group: groupIdSchema,
  from: identifierSchema,
  headIndex: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  head: entryHashSchema,
  time: timestampSchema,
  iv: base64Bytes(GCM_IV_BYTES),
  ct: base64Bytes(GCM_TAG_BYTES + 1, MAX_GROUP_CT_BYTES),
  keys: z.array(wrappedKeySchema).min(1).max(MAX_GROUP_MEMBERS),
  sig: base64Bytes(RSA_BYTES),
});

/** A sealed group message, as parsed from the wire. */
export type GroupPacket = z.infer<typeof groupPacketSchema>;
/** The cleartext fields of a group message, bound into its encryption. */
export type GroupPacketHeader = Pick<
  GroupPacket,
  'v' | 'id' | 'group' | 'from' | 'headIndex' | 'head' | 'time'
>;

function headerFields(header: GroupPacketHeader): Uint8Array[] {
  return [
    Uint8Array.of(header.v),
    hexToBytes(header.id, 'packet id'),
    hexToBytes(header.group, 'group'),
    hexToBytes(header.from, 'from'),
    uint64Bytes(header.headIndex),
    hexToBytes(header.head, 'head'),
    uint64Bytes(header.time),
  ];
}

/** The AAD of a group message body: its header, so the relay cannot move it to another group or head. */
export function groupPacketAad(header: GroupPacketHeader): Uint8Array {
  return framedBytes(LABELS.groupMessageHeader, headerFields(header));
}

/** The decoded binary fields of a group message. */
export interface GroupPacketBytes {
  readonly iv: Uint8Array;
  readonly ct: Uint8Array;
  readonly keys: readonly Uint8Array[];
}

/** Decodes a parsed group message's binary fields once, for verifying and decrypting. */
export function decodeGroupPacketBytes(packet: Omit<GroupPacket, 'sig'>): GroupPacketBytes {
  return {
    iv: base64ToBytes(packet.iv, 'iv'),
    ct: base64ToBytes(packet.ct, 'ct'),
    keys: packet.keys.map((key) => base64ToBytes(key, 'key')),
  };
}

/** The exact bytes a group message's sender signs: every field but `sig`, in a fixed order. */
export function groupPacketSigningBytes(
  header: GroupPacketHeader,
  bytes: GroupPacketBytes,
): Uint8Array {
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, bytes.keys.length, false);
  return framedBytes(LABELS.groupMessage, [
    ...headerFields(header),
    bytes.iv,
    bytes.ct,
    count,
    ...bytes.keys,
  ]);
}

/** Whether a group message's signature verifies under one key. */
export function groupPacketSignedBy(
  packet: GroupPacket,
  key: PublicKey,
  bytes: GroupPacketBytes = decodeGroupPacketBytes(packet),
): boolean {
  const signature = base64ToBytes(packet.sig, 'sig');
  return pssVerify(key.keyObject, groupPacketSigningBytes(packet, bytes), signature);
}

/** Verifies a group message's signature under its sender's key: what the relay checks on send. */
export function verifyGroupPacketSignature(
  packet: GroupPacket,
  senderKey: PublicKey,
  bytes: GroupPacketBytes = decodeGroupPacketBytes(packet),
): void {
  if (!groupPacketSignedBy(packet, senderKey, bytes)) {
    throw new SignatureInvalidError(
      'This group message is not signed by the member it names: it was forged or altered in transit.',
    );
  }
}
