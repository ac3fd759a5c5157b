import { AES_KEY_BYTES, gcmDecrypt } from './aes-gcm.js';
import { decodeBody, type Body } from './body.js';
import { base64ToBytes } from './encoding.js';
import { DecryptionFailedError, NotAddressedToMeError, SignatureInvalidError } from './errors.js';
import type { PrivateKey, PublicKey } from './keys.js';
import {
  decodePacketBytes,
  packetHeaderAad,
  parsePacket,
  signingBytesOf,
  type Packet,
} from './packet.js';
import { oaepDecrypt, pssVerify } from './rsa.js';

/** Who reads, and the key the reader holds for the packet's claimed sender. */
export interface OpenInput {
  readonly packet: unknown;
  readonly reader: { readonly identifier: string; readonly privateKey: PrivateKey };
  /** The public key of `packet.from`, as pinned by the reader: never a key the packet names. */
  readonly senderPublicKey: PublicKey;
}

/** An authenticated, decrypted packet. */
export interface OpenedPacket {
  readonly packet: Packet;
  readonly body: Body;
  /** Whether the reader received it or sent it (from another of its devices). */
  readonly direction: 'incoming' | 'outgoing';
}

/**
 * Verifies a packet's signature before touching anything else, then checks it is meant for the
 * reader, unwraps the reader's copy of the message key and decrypts: fails closed at each step.
 */
export function openPacket(input: OpenInput): OpenedPacket {
  const packet = parsePacket(input.packet);
  const bytes = decodePacketBytes(packet);
  const signature = base64ToBytes(packet.sig, 'sig');
  if (!pssVerify(input.senderPublicKey.keyObject, signingBytesOf(packet, bytes), signature)) {
    throw new SignatureInvalidError(
      'This packet is not signed by the sender it names: it was forged or altered in transit.',
    );
  }
  const { identifier, privateKey } = input.reader;
  const direction =
    packet.to === identifier ? 'incoming' : packet.from === identifier ? 'outgoing' : null;
  if (direction === null) {
    throw new NotAddressedToMeError(
      'This packet is addressed to someone else; the server misrouted it.',
    );
  }
  const wrappedKey = direction === 'incoming' ? bytes.keyTo : bytes.keyFrom;
  const messageKey = oaepDecrypt(privateKey.keyObject, wrappedKey);
  if (messageKey?.length !== AES_KEY_BYTES) {
    throw new DecryptionFailedError(
      'The message key in this packet does not decrypt with your key.',
    );
  }
  const plaintext = gcmDecrypt(messageKey, bytes.iv, bytes.ct, packetHeaderAad(packet));
  if (plaintext === null) {
    throw new DecryptionFailedError('The message body in this packet does not decrypt.');
  }
  return { packet, body: decodeBody(plaintext), direction };
}
