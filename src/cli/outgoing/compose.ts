import {
  sealPacket,
  type ChangeBody,
  type Packet,
  type PublicKey,
  type ShownBody,
} from '../../core/index.js';
import type { Account } from '../relay/account.js';
import type { Profile } from '../profile/profile.js';

/** What one message carries: a text, a reply, an edit or a delete (docs/protocol.md 8). */
export type MessageBody = ShownBody | ChangeBody;

/** The body of a plain text, or the body given. */
export function messageBody(content: string | MessageBody): MessageBody {
  return typeof content === 'string' ? { v: 1, type: 'text', text: content } : content;
}

/** The packets of one message, and whether my username rides along (the paper's exchange). */
export interface ComposedMessage {
  readonly packets: readonly Packet[];
  readonly hello: boolean;
}

/**
 * Seals one message for a peer: a `hello` carrying my username comes first, once per peer, when the
 * profile shares it (and `helloAllowed`: false while one is already on its way). Sealing fixes each
 * packet's id, so a resend of these packets is never a duplicate.
 */
export function composeMessage(
  account: Account,
  profile: Profile,
  peer: string,
  publicKey: PublicKey,
  content: string | MessageBody,
  helloAllowed = true,
): ComposedMessage {
  const seal = (body: Parameters<typeof sealPacket>[0]['body']) =>
    sealPacket({
      sender: { identifier: account.identifier, keyPair: account.keyPair },
      recipient: { identifier: peer, publicKey },
      body,
    });
  const hello =
    helloAllowed &&
    profile.shareUsername &&
    profile.peers[peer]?.helloSent !== true &&
    peer !== account.identifier;
  const packets: Packet[] = [];
  if (hello) packets.push(seal({ v: 1, type: 'hello', username: account.username }));
  packets.push(seal(messageBody(content)));
  return { packets, hello };
}

/** Records that my username was sent to a peer, so later messages do not repeat it. */
export function markHelloSent(profile: Profile, peer: string): void {
  profile.peers[peer] = { ...(profile.peers[peer] ?? {}), helloSent: true };
}
