import {
  assertGroupMemberKey,
  GroupKeyMismatchError,
  importPublicKey,
  type GroupKeyBinding,
  type GroupKeyLookup,
  type PublicKey,
} from '../../core/index.js';
import { DeletionUnverifiedError, KeyChangedError, PeerDeletedError } from '../cli-errors.js';
import { peerKey } from '../profile/peers.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';
import { peerLabel } from '../stream/peer-label.js';

/** A key the relay served for someone this device has not pinned: used only once the log names it. */
type Candidate = PublicKey;

/**
 * The keys a group operation uses, from this device's own store: its own key, the keys pinned for
 * peers, and (for members it never met) the relay's answer, taken only when its fingerprint is the
 * one the group log names and pinned then (docs/protocol.md 16.1). Log entries are verified with
 * these keys, never with a key a log or message names.
 */
export class GroupKeyring {
  private readonly served = new Map<string, Candidate>();

  constructor(private readonly session: Pick<Session, 'client' | 'profile' | 'account'>) {}

  /** Looks up, at the relay, the keys of those among `identifiers` this device has not pinned. */
  async prefetch(identifiers: Iterable<string>): Promise<void> {
    const { profile, client } = this.session;
    for (const identifier of new Set(identifiers)) {
      if (identifier === profile.identifier) continue;
      if (profile.peers[identifier]?.publicKey !== undefined || this.served.has(identifier))
        continue;
      this.served.set(identifier, await servedKey(client, identifier));
    }
  }

  /** The key to verify an entry or a message with (sync, as core's checks ask for it). */
  readonly lookup: GroupKeyLookup = (identifier) => {
    const { profile, account } = this.session;
    if (identifier === profile.identifier) return account.keyPair.publicKey;
    const pinned = profile.peers[identifier]?.publicKey;
    if (pinned !== undefined) return importPublicKey(pinned);
    const served = this.served.get(identifier);
    if (served === undefined) {
      throw new GroupKeyMismatchError(
        `No key is known here for ${identifier.slice(0, 16)}…, who signed an entry of this group's log.`,
      );
    }
    return served;
  };

  /**
   * Pins the relay's keys for members this device had not met, each only if it is the one the log
   * names for them (GROUP_KEY_MISMATCH otherwise, naming who): after a log was verified.
   */
  pinMembers(binding: GroupKeyBinding): void {
    const { profile } = this.session;
    for (const [identifier, key] of this.served) {
      if (!binding.members.includes(identifier)) continue;
      assertGroupMemberKey(binding, identifier, key, 'the member');
      if (profile.peers[identifier]?.publicKey !== undefined) continue;
      profile.peers[identifier] = { ...(profile.peers[identifier] ?? {}), publicKey: key.encoded };
    }
  }

  /**
   * One member's key for encrypting to it, checked now: a pinned key against what the relay serves
   * (KEY_CHANGED, naming the member who blocks `what`), then against the key the log names
   * (GROUP_KEY_MISMATCH); a member never met takes the relay's key only if the log names it, and
   * pins it.
   */
  async checkedKey(binding: GroupKeyBinding, identifier: string, what: string): Promise<PublicKey> {
    const { profile, client, account } = this.session;
    if (identifier === account.identifier) return account.keyPair.publicKey;
    let key: PublicKey;
    if (profile.peers[identifier]?.publicKey === undefined) {
      key = this.served.get(identifier) ?? (await servedKey(client, identifier));
      this.served.set(identifier, key);
    } else {
      try {
        key = await peerKey(client, profile, { identifier });
      } catch (error) {
        if (error instanceof PeerDeletedError || error instanceof DeletionUnverifiedError) {
          // A member whose account is gone (or so the relay says) stays one until an admin removes
          // them: the message carries a key for them as for every member, sealed to the pinned key.
          return this.pinnedMemberKey(binding, identifier);
        }
        if (!(error instanceof KeyChangedError)) throw error;
        const name = peerLabel(profile, identifier).name;
        throw new KeyChangedError(
          `${name} blocks ${what}: ${error.message.replace('Nothing was sent.', 'Nothing was sent to the group.')}`,
        );
      }
    }
    assertGroupMemberKey(binding, identifier, key, 'the member');
    this.pinMembers(binding);
    return key;
  }

  /** A member's pinned key, checked against the one the log names (GROUP_KEY_MISMATCH). */
  private pinnedMemberKey(binding: GroupKeyBinding, identifier: string): PublicKey {
    const key = importPublicKey(this.session.profile.peers[identifier]?.publicKey);
    assertGroupMemberKey(binding, identifier, key, 'the member');
    return key;
  }

  /** The key of every member at `binding` (this device's own included), each checked (checkedKey). */
  async encryptionKeys(binding: GroupKeyBinding, what: string): Promise<Map<string, PublicKey>> {
    const keys = new Map<string, PublicKey>();
    for (const identifier of binding.members)
      keys.set(identifier, await this.checkedKey(binding, identifier, what));
    return keys;
  }

  /** How a member's key stands, checked as a send would check it, without throwing. */
  async memberState(binding: GroupKeyBinding, identifier: string): Promise<MemberKeyState> {
    if (identifier === this.session.account.identifier) return 'me';
    try {
      await this.checkedKey(binding, identifier, 'sending to the group');
    } catch (error) {
      if (error instanceof KeyChangedError) return 'changed';
      if (error instanceof GroupKeyMismatchError) return 'mismatch';
      throw error;
    }
    return this.session.profile.peers[identifier]?.verified === true ? 'verified' : 'pinned';
  }
}

/**
 * The relay's key for someone this device never pinned; for a deleted account, the key its
 * tombstone names (a member stays one until removed). Either is used only if the log names it.
 */
async function servedKey(client: Session['client'], identifier: string): Promise<PublicKey> {
  try {
    return importPublicKey(await client.key(identifier));
  } catch (error) {
    if (!(error instanceof RelayRefusedError && error.code === 'ACCOUNT_DELETED')) throw error;
    return importPublicKey((await client.deletion(identifier)).publicKey);
  }
}

/** How this device stands with one member's key, as `group members` shows it. */
export type MemberKeyState = 'me' | 'verified' | 'pinned' | 'changed' | 'mismatch';
