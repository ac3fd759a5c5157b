import {
  assertGroupMemberKey,
  GroupKeyMismatchError,
  importPublicKey,
  SignatureInvalidError,
  replacedKeysFromChain,
  type GroupActor,
  type GroupKeyBinding,
  type GroupKeyLookup,
  type GroupReaderKeys,
  type GroupReplacedKeys,
  type KeyRotation,
  type PublicKey,
  type ReplacedMemberKey,
} from '../../core/index.js';
import { DeletionUnverifiedError, KeyChangedError, PeerDeletedError } from '../cli-errors.js';
import { replacedKeysOf } from '../profile/key-replacements.js';
import { peerLookup } from '../profile/peers.js';
import { deletedPeerError } from '../profile/peer-deletion.js';
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
  /** Keys members replaced, from the rotation chains the relay served with their keys (verified). */
  private readonly chains = new Map<string, readonly ReplacedMemberKey[]>();
  /** Members whose account deletion statement (5c) verified under the key used for them here. */
  private readonly deleted = new Set<string>();

  constructor(private readonly session: Pick<Session, 'client' | 'profile' | 'account'>) {}

  /** This account as the author of an entry: its key pair and the pairs it replaced (rotate-key). */
  actor(): GroupActor {
    const { identifier, keyPair, replacedKeys } = this.session.account;
    const replaced = (replacedKeys ?? []).map((r) => ({ keyPair: r.keyPair, until: r.replacedAt }));
    return { identifier, keyPair, replaced };
  }

  /** This account's private keys for reading what members wrapped for it, replaced ones too. */
  readerKeys(): GroupReaderKeys {
    const { identifier, keyPair, replacedKeys } = this.session.account;
    const older = (replacedKeys ?? []).map((r) => r.keyPair.privateKey);
    return { identifier, privateKey: keyPair.privateKey, replacedPrivateKeys: older };
  }

  /**
   * The keys a member replaced by a rotation this device checked (docs/protocol.md 16.1): those it
   * followed from its pin, and those of a chain the relay served that verifies up to the key used
   * now. A log naming one of them still names the member; the relay cannot make up a chain.
   */
  readonly replacedOf: GroupReplacedKeys = (identifier) => {
    const known = replacedKeysOf(this.session.profile, identifier);
    const seen = new Set(known.map((r) => r.key.fingerprint));
    const served = (this.chains.get(identifier) ?? []).filter((r) => !seen.has(r.key.fingerprint));
    return [...known, ...served];
  };

  /**
   * Asks the relay for members' keys again, pinned ones too (a pin the relay's key differs from is
   * followed along a signed rotation, else KEY_CHANGED naming the member), with the rotation
   * chains served beside them: after a signature or a logged key did not match the pinned one.
   */
  async refresh(identifiers: Iterable<string>): Promise<void> {
    const { profile, client } = this.session;
    for (const identifier of new Set(identifiers)) {
      if (identifier === profile.identifier) continue;
      this.served.delete(identifier);
      if (profile.peers[identifier]?.publicKey === undefined) {
        await this.serve(identifier);
        continue;
      }
      let found: { key: PublicKey; rotations: readonly KeyRotation[] };
      try {
        found = await peerLookup(client, profile, { identifier });
      } catch (error) {
        if (error instanceof PeerDeletedError || error instanceof DeletionUnverifiedError) continue;
        if (!(error instanceof KeyChangedError)) throw error;
        throw new KeyChangedError(
          `A group message or log entry of ${peerLabel(profile, identifier).name} does not verify under the key pinned here: ${error.message}`,
        );
      }
      this.chains.set(identifier, replacedKeysFromChain(identifier, found.key, found.rotations));
    }
  }

  /**
   * Runs a check with the keys held now; if a signature or a logged key does not match them, asks
   * the relay for the keys of `identifiers` again (refresh: a rotation is followed, a plain change
   * is KEY_CHANGED naming the member) and runs it once more.
   */
  async retried<T>(identifiers: Iterable<string>, check: () => T): Promise<T> {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof SignatureInvalidError || error instanceof GroupKeyMismatchError))
        throw error;
      await this.refresh(identifiers);
      return check();
    }
  }

  /** The relay's key for a member never pinned here, and the rotations it served with it. */
  private async serve(identifier: string): Promise<Candidate> {
    const { key, rotations, gone } = await servedKey(this.session, identifier);
    if (gone) this.deleted.add(identifier);
    this.served.set(identifier, key);
    this.chains.set(identifier, replacedKeysFromChain(identifier, key, rotations));
    return key;
  }

  /** Looks up, at the relay, the keys of those among `identifiers` this device has not pinned. */
  async prefetch(identifiers: Iterable<string>): Promise<void> {
    const { profile } = this.session;
    for (const identifier of new Set(identifiers)) {
      if (identifier === profile.identifier) continue;
      if (profile.peers[identifier]?.publicKey !== undefined || this.served.has(identifier))
        continue;
      await this.serve(identifier);
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
      assertGroupMemberKey(binding, identifier, key, 'the member', this.replacedOf(identifier));
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
      key = this.served.get(identifier) ?? (await this.serve(identifier));
    } else {
      try {
        const found = await peerLookup(client, profile, { identifier });
        key = found.key;
        this.chains.set(identifier, replacedKeysFromChain(identifier, key, found.rotations));
      } catch (error) {
        if (error instanceof PeerDeletedError) this.deleted.add(identifier);
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
    assertGroupMemberKey(binding, identifier, key, 'the member', this.replacedOf(identifier));
    this.pinMembers(binding);
    return key;
  }

  /** A member's pinned key, checked against the one the log names (GROUP_KEY_MISMATCH). */
  private pinnedMemberKey(binding: GroupKeyBinding, identifier: string): PublicKey {
    const key = importPublicKey(this.session.profile.peers[identifier]?.publicKey);
    assertGroupMemberKey(binding, identifier, key, 'the member', this.replacedOf(identifier));
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
    if (this.deleted.has(identifier)) return 'deleted';
    return this.session.profile.peers[identifier]?.verified === true ? 'verified' : 'pinned';
  }
}

/**
 * The relay's key for someone this device never pinned; for a deleted account, the key its
 * tombstone names (a member stays one until removed). Either is used only if the log names it.
 */
async function servedKey(
  session: Pick<Session, 'client' | 'profile'>,
  identifier: string,
): Promise<{ key: PublicKey; rotations: readonly KeyRotation[]; gone: boolean }> {
  const { client, profile } = session;
  try {
    const { publicKey, rotations } = await client.lookup(identifier);
    return { key: importPublicKey(publicKey), rotations, gone: false };
  } catch (error) {
    if (!(error instanceof RelayRefusedError && error.code === 'ACCOUNT_DELETED')) throw error;
    const key = importPublicKey((await client.deletion(identifier)).publicKey);
    // Deleted for sure only if the tombstone's statement verifies under that key (5c).
    const why = await deletedPeerError(
      client,
      profile,
      identifier,
      peerLabel(profile, identifier).name,
    );
    return { key, rotations: [], gone: why instanceof PeerDeletedError };
  }
}

/** How this device stands with one member's key, as `group members` shows it. */
export type MemberKeyState = 'me' | 'verified' | 'pinned' | 'changed' | 'mismatch' | 'deleted';
