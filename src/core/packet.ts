import { Buffer } from 'node:buffer';
import { z } from 'zod';
import { GCM_IV_BYTES, GCM_TAG_BYTES } from './aes-gcm.js';
import { framedBytes, uint64Bytes } from './canonical-bytes.js';
import { base64ToBytes, canonicalBase64Length, hexToBytes } from './encoding.js';
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

const PACKET_ID = /^[0-9a-f]{32}$/;
const IDENTIFIER = /^[0-9a-f]{64}$/;
/** Every field of a packet, in the schema's order: a well-formed packet has these own keys and no other. */
const FIELD_COUNT = Object.keys(packetSchema.shape).length;

/** Whether a base64 field is canonical and decodes to a length in [min, max]. */
function base64Within(text: unknown, min: number, max = min): boolean {
  const length = canonicalBase64Length(text);
  return length !== null && length >= min && length <= max;
}

/**
 * The relay's hot path: a plain object with exactly the packet's fields, each well-formed, is
 * accepted here without the schema's machinery. Anything else (a single doubt) goes to the schema,
 * which decides and names the error; this only ever accepts what the schema accepts too.
 */
function wellFormed(input: object): Packet | undefined {
  if (Object.getPrototypeOf(input) !== Object.prototype) return undefined;
  const p = input as Record<string, unknown>;
  const { v, id, from, to, time, iv, ct, keyTo, keyFrom, sig } = p;
  if (
    v !== PROTOCOL_VERSION ||
    typeof id !== 'string' ||
    !PACKET_ID.test(id) ||
    typeof from !== 'string' ||
    !IDENTIFIER.test(from) ||
    typeof to !== 'string' ||
    !IDENTIFIER.test(to) ||
    typeof time !== 'number' ||
    !Number.isSafeInteger(time) ||
    time < 0 ||
    !base64Within(iv, GCM_IV_BYTES) ||
    !base64Within(ct, GCM_TAG_BYTES + 1, MAX_BODY_BYTES + GCM_TAG_BYTES) ||
    !base64Within(keyTo, RSA_BYTES) ||
    !base64Within(keyFrom, RSA_BYTES) ||
    !base64Within(sig, RSA_BYTES) ||
    Object.keys(p).length !== FIELD_COUNT
  ) {
    return undefined;
  }
  // A fresh object in the schema's field order, as the schema would return.
  return {
    v,
    id,
    from,
    to,
    time,
    iv: iv as string,
    ct: ct as string,
    keyTo: keyTo as string,
    keyFrom: keyFrom as string,
    sig: sig as string,
  };
}

/** Parses a packet from untrusted input; a future version is told apart from garbage. */
export function parsePacket(input: unknown): Packet {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const packet = wellFormed(input);
    if (packet) return packet;
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

const SIGNATURE_LABEL = Buffer.from(LABELS.packetSignature, 'latin1');
/** Bytes of the header fields in the signed framing: version, id, from, to, time. */
const HEADER_FIELD_BYTES = [1, PACKET_ID_BYTES, 32, 32, 8] as const;

/** Decoded length of base64 that the packet schema already found canonical. */
function decodedLength(text: string): number {
  return (text.length / 4) * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
}

/**
 * The same bytes as packetSigningBytes, written into one buffer: each hex and base64 field decoded
 * once, by Node's native decoders, straight into its place. Only for a packet parsePacket returned
 * (those decoders are lenient; the schema is what makes every field canonical): the relay's hot path.
 */
export function signingBytesOfParsed(packet: Packet): Uint8Array {
  const binary = [packet.iv, packet.ct, packet.keyTo, packet.keyFrom];
  const lengths = binary.map(decodedLength);
  let total = SIGNATURE_LABEL.length + 1;
  for (const bytes of HEADER_FIELD_BYTES) total += 4 + bytes;
  for (const bytes of lengths) total += 4 + bytes;
  const out = Buffer.allocUnsafe(total);
  let at = SIGNATURE_LABEL.copy(out, 0);
  out[at++] = 0;
  const field = (bytes: number) => {
    out.writeUInt32BE(bytes, at);
    at += 4;
  };
  field(1);
  out[at++] = packet.v;
  field(PACKET_ID_BYTES);
  at += out.write(packet.id, at, 'hex');
  field(32);
  at += out.write(packet.from, at, 'hex');
  field(32);
  at += out.write(packet.to, at, 'hex');
  field(8);
  // A safe integer as 8 big-endian bytes, in two halves (no BigInt on the hot path).
  out.writeUInt32BE(Math.floor(packet.time / 2 ** 32), at);
  out.writeUInt32BE(packet.time >>> 0, at + 4);
  at += 8;
  binary.forEach((text, i) => {
    const bytes = lengths[i] ?? 0;
    field(bytes);
    if (out.write(text, at, bytes, 'base64') !== bytes) throw new Error('a field did not decode');
    at += bytes;
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
