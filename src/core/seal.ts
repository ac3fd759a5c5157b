import { AES_KEY_BYTES, GCM_IV_BYTES, gcmEncrypt } from './aes-gcm.js';
import { encodeBody, type Body } from './body.js';
import { bytesToBase64, bytesToHex } from './encoding.js';
import { PROTOCOL_VERSION } from './labels.js';
import type { KeyPair, PublicKey } from './keys.js';
import {
  PACKET_ID_BYTES,
  packetHeaderAad,
  signingBytesOf,
  type Packet,
  type PacketBytes,
  type PacketHeader,
  type UnsignedPacket,
} from './packet.js';
import { systemRandom, type RandomSource } from './random.js';
import { oaepEncrypt, pssSign } from './rsa.js';
import { identifierSchema, parseWire, timestampSchema } from './schemas.js';

/** Who sends, to whom, and what. */
export interface SealInput {
  readonly sender: { readonly identifier: string; readonly keyPair: KeyPair };
  readonly recipient: { readonly identifier: string; readonly publicKey: PublicKey };
  readonly body: Body;
}

/** Injection points for test vectors; production code passes nothing. */
export interface SealOptions {
  readonly random?: RandomSource;
  readonly now?: () => number;
}

/**
 * Encrypts a body for the recipient and for the sender's own devices, then signs every field:
 * the one way a client produces a packet.
 */
export function sealPacket(input: SealInput, options: SealOptions = {}): Packet {
  const random = options.random ?? systemRandom;
  const plaintext = encodeBody(input.body);
  const header: PacketHeader = {
    v: PROTOCOL_VERSION,
    id: bytesToHex(random(PACKET_ID_BYTES)),
    from: parseWire(identifierSchema, input.sender.identifier, 'sender identifier'),
    to: parseWire(identifierSchema, input.recipient.identifier, 'recipient identifier'),
    time: parseWire(timestampSchema, (options.now ?? Date.now)(), 'time'),
  };
  const messageKey = random(AES_KEY_BYTES);
  const iv = random(GCM_IV_BYTES);
  const bytes: PacketBytes = {
    iv,
    ct: gcmEncrypt(messageKey, iv, plaintext, packetHeaderAad(header)),
    keyTo: oaepEncrypt(input.recipient.publicKey.keyObject, messageKey),
    keyFrom: oaepEncrypt(input.sender.keyPair.publicKey.keyObject, messageKey),
  };
  const signature = pssSign(
    input.sender.keyPair.privateKey.keyObject,
    signingBytesOf(header, bytes),
  );
  const unsigned: UnsignedPacket = {
    ...header,
    iv: bytesToBase64(bytes.iv),
    ct: bytesToBase64(bytes.ct),
    keyTo: bytesToBase64(bytes.keyTo),
    keyFrom: bytesToBase64(bytes.keyFrom),
  };
  return { ...unsigned, sig: bytesToBase64(signature) };
}
