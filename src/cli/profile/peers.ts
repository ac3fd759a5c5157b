import {
  identifierFromUsername,
  importPublicKey,
  isIdentifier,
  normalizeUsername,
  type KeyRotation,
  type PublicKey,
} from '../../core/index.js';
import {
  DeletionUnverifiedError,
  KeyChangedError,
  PeerDeletedError,
  UnknownPeerError,
} from '../cli-errors.js';
import { peerLabel } from '../stream/peer-label.js';
import { followPeerRotation, replacedKeysOf, type ReplacedPeerKey } from './key-replacements.js';
import type { Profile } from './profile.js';
import { RelayRefusedError, type RelayClient } from '../relay/relay-client.js';
import { deletedPeerError } from './peer-deletion.js';
import { oneLine } from '../terminal/terminal-text.js';

/** A peer address after parsing: who, and the fingerprint the user vouched for, if any. */
export interface PeerAddress {
  readonly identifier: string;
  readonly fingerprint?: string;
  /** Set when the address was a username nobody here knew, hashed locally into its identifier. */
  readonly username?: string;
}

const WITH_FINGERPRINT = /^([0-9a-f]{64})#([0-9a-f]{64})$/;

/**
 * Reads `<id>`, `<id>#<fingerprint>`, a local alias, a username learned through the exchange, or
 * else any valid username, hashed here into its identifier (as the relay never learns names).
 */
export function parsePeerAddress(address: string, profile: Profile): PeerAddress {
  const lowered = address.trim().toLowerCase();
  if (isIdentifier(lowered)) return { identifier: lowered };
  const pinned = WITH_FINGERPRINT.exec(lowered);
  if (pinned?.[1] && pinned[2]) return { identifier: pinned[1], fingerprint: pinned[2] };
  for (const [identifier, peer] of Object.entries(profile.peers)) {
    if (peer.alias === address.trim()) return { identifier };
  }
  let username: string | undefined;
  try {
    username = normalizeUsername(address);
  } catch {
    username = undefined;
  }
  for (const [identifier, peer] of Object.entries(profile.peers)) {
    if (username !== undefined && peer.username === username) return { identifier };
  }
  // An alias typed in another case is that alias, never a stranger's username that looks like it.
  const folded = address.trim().toLowerCase();
  for (const [identifier, peer] of Object.entries(profile.peers)) {
    if (peer.alias?.toLowerCase() === folded) return { identifier };
  }
  if (username !== undefined) return { identifier: identifierFromUsername(username), username };
  throw new UnknownPeerError(
    `"${address.slice(0, 80)}" is not a 64-hex identifier, an identifier#fingerprint, an alias or a username.`,
  );
}

/**
 * The key to use for a peer: the relay's answer, checked against what this device pinned (or the
 * fingerprint the user gave). First contact pins it, and a fingerprint given out of band also marks
 * it verified; a different key later is refused, loudly.
 * Mutates `profile` (pin or changed-key mark); the caller saves it.
 */
export async function peerKey(
  client: RelayClient,
  profile: Profile,
  address: PeerAddress,
): Promise<PublicKey> {
  return (await peerLookup(client, profile, address)).key;
}

/** peerKey, with the rotation statements the relay served beside the key (none for oneself). */
export async function peerLookup(
  client: RelayClient,
  profile: Profile,
  address: PeerAddress,
): Promise<{ key: PublicKey; rotations: readonly KeyRotation[] }> {
  if (address.identifier === profile.identifier)
    return { key: importPublicKey(profile.publicKey), rotations: [] };
  const lookup = await lookupLiving(client, profile, address.identifier);
  const key = checkedPeerKey(profile, address, lookup);
  return { key, rotations: lookup.rotations };
}

/** The served key against the pin: followed along a rotation, pinned at first contact, or refused. */
function checkedPeerKey(
  profile: Profile,
  address: PeerAddress,
  lookup: Awaited<ReturnType<RelayClient['lookup']>>,
): PublicKey {
  const served = importPublicKey(lookup.publicKey);
  let peer = profile.peers[address.identifier] ?? {};
  if (address.fingerprint !== undefined && served.fingerprint !== address.fingerprint) {
    throw new KeyChangedError(
      `The relay served a key for ${address.identifier.slice(0, 12)}… whose fingerprint is not the one you gave: refusing. Someone may be impersonating this peer.`,
    );
  }
  if (peer.disputed === true) {
    throw new KeyChangedError(
      `WARNING: two programs on this device pinned different keys for ${peerLabel(profile, address.identifier).name}. Nothing was sent. Compare safety numbers with "metachat verify", then accept with --trust.`,
    );
  }
  if (peer.publicKey !== undefined && peer.publicKey !== served.encoded) {
    // A key replaced with a rotation the pinned key signed is followed, and said so; else, as ever, a change.
    const name = peerLabel(profile, address.identifier).name;
    const pinned = { ...peer, publicKey: peer.publicKey };
    const refused = followPeerRotation(
      profile,
      address.identifier,
      pinned,
      served,
      lookup.rotations,
      name,
    );
    if (refused === null) return served;
    const why =
      lookup.rotations.length > 0 || refused.code === 'ROTATION_ROLLED_BACK'
        ? ` The relay's key rotation statements do not count (${refused.code}): ${refused.message}`
        : '';
    if (peer.changedKey !== served.encoded) {
      // A key nobody has looked at yet: `verify` must show it before `--trust` can accept it.
      const { shownKey: _stale, ...rest } = peer;
      profile.peers[address.identifier] = { ...rest, changedKey: served.encoded };
    }
    throw new KeyChangedError(
      `WARNING: the key of ${name} changed. Nothing was sent. Compare safety numbers with "metachat verify", then accept with --trust.${why}`,
    );
  }
  if (peer.publicKey === served.encoded && peer.changedKey !== undefined) {
    // The relay serves the pinned key again: its earlier change is withdrawn.
    const { changedKey: _withdrawn, shownKey: _shown, ...kept } = peer;
    peer = kept;
    profile.peers[address.identifier] = kept;
  }
  const vouched = address.fingerprint !== undefined;
  if (peer.publicKey === undefined || (vouched && peer.verified !== true)) {
    profile.peers[address.identifier] = {
      ...peer,
      publicKey: served.encoded,
      ...(vouched ? { verified: true } : {}),
    };
  }
  return served;
}

/**
 * The relay's key answer; its ACCOUNT_DELETED is checked against the deletion request (a
 * PeerDeletedError when it verifies under the pinned key, a DeletionUnverifiedError warning if not,
 * and, when the key signed something after the request, the pinned key with a warning on stderr).
 */
async function lookupLiving(
  client: RelayClient,
  profile: Profile,
  identifier: string,
): ReturnType<RelayClient['lookup']> {
  try {
    return await client.lookup(identifier);
  } catch (error) {
    if (!(error instanceof RelayRefusedError) || error.code !== 'ACCOUNT_DELETED') throw error;
    const conclusion = await deletedPeerError(
      client,
      profile,
      identifier,
      peerLabel(profile, identifier).name,
    );
    if (!('contradicted' in conclusion)) throw conclusion;
    // The claim is false: the peer goes on with the key that signed after the request.
    process.stderr.write(`\u001b[31m${oneLine(conclusion.warning)}\u001b[0m\n`);
    return { publicKey: conclusion.publicKey, rotations: [] };
  }
}

/** What to tell the user when a username was hashed into the identifier used. */
export function usernameNotice(address: PeerAddress): string | null {
  if (address.username === undefined) return null;
  return `"${address.username}" is not an alias or a known name here; taken as a username: identifier ${address.identifier}.`;
}

/** The refusal for a username-derived address that names nobody on the relay. */
export function noSuchUser(address: PeerAddress & { username: string }): UnknownPeerError {
  return new UnknownPeerError(
    `No account "${address.username}" on this relay (its identifier would be ${address.identifier.slice(0, 12)}…): check the spelling, or ask for their identifier.`,
  );
}

/** Told once, the first time a peer's key is pinned: the whole identifier and the key's fingerprint. */
export function firstContactNotice(identifier: string, key: PublicKey, name: string): string {
  return `First contact with ${name}: identifier ${identifier}, key fingerprint ${key.fingerprint}. Compare it with them ("metachat verify ${name}").`;
}

/** New peers one run may pin from packets the relay hands over (not from the user's own commands). */
export const MAX_NEW_PEERS_PER_RUN = 100;
/** Beyond this many peers in the profile, packets from strangers no longer pin their keys. */
export const MAX_PEERS = 1_000;

/** How many first-use pins relay-driven input made per loaded profile, and how many were refused. */
const pinsThisRun = new WeakMap<Profile, { pinned: number; refused: number }>();

/** The pin counts of this run for a profile: how many strangers were pinned, how many were not. */
export function strangerPins(profile: Profile): { pinned: number; refused: number } {
  let counts = pinsThisRun.get(profile);
  if (counts === undefined) {
    counts = { pinned: 0, refused: 0 };
    pinsThisRun.set(profile, counts);
  }
  return counts;
}

/** The key a packet's sender has, and how to pin it once a packet verified with it. */
export interface SenderKey {
  readonly key: PublicKey;
  /** Keys the sender replaced: a packet dated before the rotation may be signed by one. */
  readonly replaced?: readonly ReplacedPeerKey[];
  /** Pins the key at first contact (within the run's and the profile's bounds); a no-op otherwise. */
  readonly pin: () => void;
}

/**
 * The key to check a delivered packet with. A pinned peer's key goes through `peerKey` (a change is
 * recorded and refused); a stranger's key is only looked up: it is pinned by `pin`, which the caller
 * calls once a packet verified with it, so forged packets never grow the profile. Pins from this
 * relay-driven input are bounded per run (MAX_NEW_PEERS_PER_RUN) and in total (MAX_PEERS).
 */
export async function senderKey(
  client: RelayClient,
  profile: Profile,
  identifier: string,
): Promise<SenderKey> {
  const none = () => undefined;
  const pinned = profile.peers[identifier]?.publicKey;
  if (identifier === profile.identifier || pinned !== undefined) {
    let key: PublicKey;
    try {
      key = await peerKey(client, profile, { identifier });
    } catch (error) {
      // A deleted contact's packets stay readable under the key pinned here, whatever the relay says.
      const gone = error instanceof PeerDeletedError || error instanceof DeletionUnverifiedError;
      if (!gone || pinned === undefined) throw error;
      key = importPublicKey(pinned);
    }
    return { key, replaced: replacedKeysOf(profile, identifier), pin: none };
  }
  const served = importPublicKey(await client.key(identifier));
  return {
    key: served,
    pin: () => {
      if (profile.peers[identifier]?.publicKey !== undefined) return;
      const counts = strangerPins(profile);
      const known = profile.peers[identifier] !== undefined;
      if (
        !known &&
        (counts.pinned >= MAX_NEW_PEERS_PER_RUN || Object.keys(profile.peers).length >= MAX_PEERS)
      ) {
        counts.refused++;
        return;
      }
      counts.pinned++;
      profile.peers[identifier] = {
        ...(profile.peers[identifier] ?? {}),
        publicKey: served.encoded,
      };
    },
  };
}
