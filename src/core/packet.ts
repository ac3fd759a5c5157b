import { z } from 'zod';
import { GCM_IV_BYTES, GCM_TAG_BYTES } from './aes-gcm.js';
import { framedBytes, uint64Bytes } from './canonical-bytes.js';
import { base64ToBytes, hexToBytes } from './encoding.js';
import { UnsupportedVersionError } from './errors.js';
import { LABELS, PROTOCOL_VERSION } from './labels.js';
import { MAX_BODY_BYTES } from './body.js';
import { RSA_BYTES } from './rsa.js';
import {
  base64Bytes,
  identifierSchema,
  packetIdSchema,
  parseWire,
  timestampSchema,
} from './schemas.js';

/** Bytes of randomness in a packet id. */
export const PACKET_ID_BYTES = 16;
/** Largest serialized packet (JSON); the transport's frame limit matches it. */
export const MAX_PACKET_BYTES = 64 * 1024;

/** A sealed packet as it crosses the wire and lies on the server's disk. */
export const packetSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  id: packetIdSchema,
  from: identifierSchema,
  to: identifierSchema,
  time: timestampSchema,
  iv: base64Bytes(GCM_IV_BYTES),
  ct: base64Bytes(GCM_TAG_BYTES + 1, MAX_BODY_BYTES + GCM_TAG_BYTES),
  keyTo: base64Bytes(RSA_BYTES),
  keyFrom: base64Bytes(RSA_BYTES),
  sig: base64Bytes(RSA_BYTES),
});

/** A sealed packet, as parsed from the wire. */
export type Packet = z.infer<typeof packetSchema>;
/** The cleartext routing fields of a packet, bound into the encryption as AAD. */
export type PacketHeader = Pick<Packet, 'v' | 'id' | 'from' | 'to' | 'time'>;
/** Every field the signature covers. */
export type UnsignedPacket = Omit<Packet, 'sig'>;

/** Parses a packet from untrusted input; a future version is told apart from garbage. */
export function parsePacket(input: unknown): Packet {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const version = (input as { v?: unknown }).v;
    if (typeof version === 'number' && Number.isInteger(version) && version !== PROTOCOL_VERSION) {
      throw new UnsupportedVersionError(
        `The packet uses protocol version ${version}; this build speaks ${PROTOCOL_VERSION}. Update MetaChat.`,
      );
    }
  }
  return parseWire(packetSchema, input, 'packet');
}

function headerFields(header: PacketHeader): Uint8Array[] {
  return [
    Uint8Array.of(header.v),
    hexToBytes(header.id, 'packet id'),
    hexToBytes(header.from, 'from'),
    hexToBytes(header.to, 'to'),
    uint64Bytes(header.time),
  ];
}

/** The AAD of the body encryption: the header, so the server cannot re-route a ciphertext. */
export function packetHeaderAad(header: PacketHeader): Uint8Array {
  return framedBytes(LABELS.packetHeader, headerFields(header));
}

/** The binary fields of a packet, decoded from base64 once and shared by verify and decrypt. */
export interface PacketBytes {
  readonly iv: Uint8Array;
  readonly ct: Uint8Array;
  readonly keyTo: Uint8Array;
  readonly keyFrom: Uint8Array;
}

/** Decodes the binary fields of a parsed packet. */
export function decodePacketBytes(packet: UnsignedPacket): PacketBytes {
  return {
    iv: base64ToBytes(packet.iv, 'iv'),
    ct: base64ToBytes(packet.ct, 'ct'),
    keyTo: base64ToBytes(packet.keyTo, 'keyTo'),
    keyFrom: base64ToBytes(packet.keyFrom, 'keyFrom'),
  };
}

/** The exact bytes the sender signs, from already-decoded fields. */
export function signingBytesOf(header: PacketHeader, bytes: PacketBytes): Uint8Array {
  return framedBytes(LABELS.packetSignature, [
    ...headerFields(header),
    bytes.iv,
    bytes.ct,
    bytes.keyTo,
    bytes.keyFrom,
  ]);
}

/** The exact bytes the sender signs: every field but the signature, in a fixed order. */
export function packetSigningBytes(packet: UnsignedPacket): Uint8Array {
  return signingBytesOf(packet, decodePacketBytes(packet));
}
