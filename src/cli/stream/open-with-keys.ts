import {
  DecryptionFailedError,
  openPacket,
  SignatureInvalidError,
  verifyPacketSignature,
  type OpenedPacket,
  type Packet,
  type PublicKey,
} from '../../core/index.js';
import type { SenderKey } from '../profile/peers.js';
import type { Account } from '../relay/account.js';

/**
 * The sender key a packet verifies with: the current one, or else a key the sender replaced by a
 * signed rotation, only for a packet dated no later than that rotation. Throws the current key's
 * failure when none verifies.
 */
export function verifySender(packet: Packet, sender: SenderKey): PublicKey {
  try {
    verifyPacketSignature(packet, sender.key);
    return sender.key;
  } catch (error) {
    if (!(error instanceof SignatureInvalidError)) throw error;
    for (const old of sender.replaced ?? []) {
      if (packet.time > old.until) continue;
      try {
        verifyPacketSignature(packet, old.key);
        return old.key;
      } catch (again) {
        if (!(again instanceof SignatureInvalidError)) throw again;
      }
    }
    throw error;
  }
}

/**
 * Verifies and opens a packet, with the account's current private key or, for a packet sealed
 * before a `rotate-key`, one of the replaced ones it keeps.
 */
export function openWithMyKeys(
  account: Account,
  packet: Packet,
  sender: { identifier: string; publicKey: PublicKey },
): OpenedPacket {
  const readers = [account.keyPair, ...(account.replacedKeys ?? []).map((key) => key.keyPair)];
  let first: unknown;
  for (const pair of readers) {
    try {
      return openPacket({
        packet,
        reader: { identifier: account.identifier, privateKey: pair.privateKey },
        sender,
      });
    } catch (error) {
      if (!(error instanceof DecryptionFailedError)) throw error;
      first ??= error;
    }
  }
  throw first;
}
