import { Buffer } from 'node:buffer';
import { AES_KEY_BYTES, gcmDecrypt } from './aes-gcm.js';
import { decodeBody, type Body } from './body.js';
import { base64ToBytes } from './encoding.js';
import {
  DecryptionFailedError,
  NotAddressedToMeError,
  SenderMismatchError,
  SignatureInvalidError,
  UsernameMismatchError,
} from './errors.js';
import { usernameMatchesIdentifier } from './identity.js';
import type { PrivateKey, PublicKey } from './keys.js';
import {
  decodePacketBytes,
  packetHeaderAad,
  parsePacket,
  signingBytesOf,
  signingBytesOfParsed,
  type Packet,
  type PacketBytes,
} from './packet.js';
import { oaepDecrypt, pssVerify } from './rsa.js';

/** Who reads, and whom the reader expects the packet from, with the key it holds for them. */
export interface OpenInput {
  readonly packet: unknown;
  readonly reader: { readonly identifier: string; readonly privateKey: PrivateKey };
  /** The expected sender and its key from the reader's own pinned store: never a key the packet names. */
  readonly sender: { readonly identifier: string; readonly publicKey: PublicKey };
}

/** An authenticated, decrypted packet. */
export interface OpenedPacket {
  readonly packet: Packet;
  readonly body: Body;
  /** Whether the reader received it or sent it (from another of its devices). */
  readonly direction: 'incoming' | 'outgoing';
}

/**
 * Verifies a parsed packet's signature under the claimed sender's key: what the relay checks on
 * send. A caller that already decoded the binary fields may pass them.
 */
export function verifyPacketSignature(
  packet: Packet,
  senderPublicKey: PublicKey,
  bytes: PacketBytes = decodePacketBytes(packet),
): void {
  verifyWith(packet, bytes, senderPublicKey);
}

/**
 * The same check for a packet parsePacket returned, with its signed bytes built in one buffer
 * (signingBytesOfParsed): what the relay runs on every send.
 */
export function verifyParsedPacketSignature(packet: Packet, senderPublicKey: PublicKey): void {
  const signature = Buffer.from(packet.sig, 'base64');
  if (!pssVerify(senderPublicKey.keyObject, signingBytesOfParsed(packet), signature)) {
    throw invalidSignature();
  }
}

function invalidSignature(): SignatureInvalidError {
  return new SignatureInvalidError(
    'This packet is not signed by the sender it names: it was forged or altered in transit.',
  );
}

function verifyWith(packet: Packet, bytes: PacketBytes, senderPublicKey: PublicKey): void {
  const signature = base64ToBytes(packet.sig, 'sig');
  if (!pssVerify(senderPublicKey.keyObject, signingBytesOf(packet, bytes), signature)) {
    throw invalidSignature();
  }
}

/**
 * Checks the packet comes from the expected sender and verifies its signature before touching
 * anything else, then checks it is meant for the reader, unwraps the reader's copy of the message key and decrypts: fails closed at each step.
 */
export function openPacket(input: OpenInput): OpenedPacket {
  const packet = parsePacket(input.packet);
  if (packet.from !== input.sender.identifier) {
    throw new SenderMismatchError(
      'This packet claims a different sender than the one it was checked against; it is not shown.',
    );
  }
  const bytes = decodePacketBytes(packet);
  verifyWith(packet, bytes, input.sender.publicKey);
  const { identifier, privateKey } = input.reader;
  const direction =
    packet.from === identifier ? 'outgoing' : packet.to === identifier ? 'incoming' : null;
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
  const body = decodeBody(plaintext);
  if (body.type === 'hello' && !usernameMatchesIdentifier(body.username, packet.from)) {
    throw new UsernameMismatchError(
      'The sender offered a username that does not match its identifier; it is not shown.',
    );
  }
  return { packet, body, direction };
}
