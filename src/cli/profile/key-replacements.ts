import {
  followRotations,
  importPublicKey,
  MAX_KEPT_ROTATIONS,
  MetaChatError,
  type KeyRotation,
  type PublicKey,
} from '../../core/index.js';
import type { PeerRecord, Profile } from './profile.js';

/** A key its owner replaced, and the time of the rotation: packets dated before it still verify. */
export interface ReplacedPeerKey {
  readonly key: PublicKey;
  readonly until: number;
}

/** Who hears of a peer key replaced by a signed rotation: the command's stderr, the chat screen. */
const listeners = new WeakMap<Profile, (line: string) => void>();

/** Sets where the "replaced their key" lines of a loaded profile go. */
export function onKeyReplaced(profile: Profile, listener: (line: string) => void): void {
  listeners.set(profile, listener);
}

/** The line shown when a peer's new key came with a rotation signed by the key pinned here. */
export function keyReplacedNotice(name: string): string {
  return `${name} replaced their key (signed by their previous key)`;
}

/**
 * Follows the rotation chain served with a changed key from the key pinned here. On success the
 * peer record takes the new key (verified stays as it was: the old key vouched for the new one),
 * remembers the replaced keys, and the listener hears the notice; returns null. Otherwise returns
 * the reason the chain did not count (null chain: no reason to give), and nothing changes.
 */
export function followPeerRotation(
  profile: Profile,
  identifier: string,
  peer: PeerRecord & { publicKey: string },
  served: PublicKey,
  rotations: readonly KeyRotation[],
  name: string,
): MetaChatError | null {
  const replaced = (peer.replacedKeys ?? []).map((entry) => importPublicKey(entry.publicKey));
  let steps: readonly KeyRotation[];
  try {
    steps = followRotations(
      identifier,
      importPublicKey(peer.publicKey),
      served,
      rotations,
      replaced.map((key) => key.fingerprint),
      peer.rotation ?? 0,
    ).steps;
  } catch (error) {
    if (error instanceof MetaChatError) return error;
    throw error;
  }
  const { changedKey: _changed, shownKey: _shown, ...rest } = peer;
  const newest = [...steps].reverse().map((step) => ({ publicKey: step.oldKey, until: step.time }));
  profile.peers[identifier] = {
    ...rest,
    publicKey: served.encoded,
    rotation: steps.at(-1)?.counter ?? peer.rotation ?? 0,
    replacedKeys: [...newest, ...(peer.replacedKeys ?? [])].slice(0, MAX_KEPT_ROTATIONS),
  };
  listeners.get(profile)?.(keyReplacedNotice(name));
  return null;
}

/**
 * The keys a sender replaced, as this device knows them: its own from the profile, a peer's from
 * the rotations this device followed.
 */
export function replacedKeysOf(profile: Profile, identifier: string): ReplacedPeerKey[] {
  if (identifier === profile.identifier) {
    return (profile.replacedKeys ?? []).map((entry) => ({
      key: importPublicKey(entry.publicKey),
      until: entry.replacedAt,
    }));
  }
  return (profile.peers[identifier]?.replacedKeys ?? []).map((entry) => ({
    key: importPublicKey(entry.publicKey),
    until: entry.until,
  }));
}
