import { gcmEncrypt } from '../../src/core/aes-gcm.js';
import {
  bytesToBase64,
  bytesToHex,
  packetHeaderAad,
  packetSigningBytes,
  systemRandom,
  type Packet,
  type PacketHeader,
  type PublicKey,
} from '../../src/core/index.js';
import { oaepEncrypt, pssSign } from '../../src/core/rsa.js';
import type { Party } from './parties.js';

/** What a hostile but key-holding sender could put in a correctly signed packet. */
export interface RawSealOptions {
  readonly plaintext: Uint8Array;
  readonly keyToRecipient?: PublicKey;
  readonly corruptCiphertext?: boolean;
  readonly messageKey?: Uint8Array;
}

/**
 * Seals arbitrary plaintext with a valid signature, bypassing body validation: lets tests reach
 * the checks that come after signature verification.
 */
export function sealRaw(sender: Party, recipient: Party, options: RawSealOptions): Packet {
  const header: PacketHeader = {
    v: 1,
    id: bytesToHex(systemRandom(16)),
    from: sender.identifier,
    to: recipient.identifier,
    time: Date.now(),
  };
  const key = options.messageKey ?? systemRandom(32);
  const aesKey = key.length === 32 ? key : systemRandom(32);
  const iv = systemRandom(12);
  const ct = gcmEncrypt(aesKey, iv, options.plaintext, packetHeaderAad(header));
  if (options.corruptCiphertext === true) ct[0] = (ct[0] ?? 0) ^ 1;
  const unsigned = {
    ...header,
    iv: bytesToBase64(iv),
    ct: bytesToBase64(ct),
    keyTo: bytesToBase64(
      oaepEncrypt((options.keyToRecipient ?? recipient.keyPair.publicKey).keyObject, key),
    ),
    keyFrom: bytesToBase64(oaepEncrypt(sender.keyPair.publicKey.keyObject, key)),
  };
  const sig = pssSign(sender.keyPair.privateKey.keyObject, packetSigningBytes(unsigned));
  return { ...unsigned, sig: bytesToBase64(sig) };
}
