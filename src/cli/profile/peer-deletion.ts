import {
  importPublicKey,
  isGroupRecord,
  MetaChatError,
  verifyAccountDeletion,
  verifyPacketSignature,
  type PublicKey,
  type StreamRecord,
} from '../../core/index.js';
import { DeletionUnverifiedError, PeerDeletedError } from '../cli-errors.js';
import { historyEvidence } from '../history/history-evidence.js';
import { RelayRefusedError, type RelayClient } from '../relay/relay-client.js';
import type { Profile } from './profile.js';

/**
 * The relay's deletion claim, contradicted: the peer's key signed something after its deletion
 * request, so the request did not take effect. The peer stays a contact; `warning` says so.
 */
export interface DeletionContradicted {
  readonly contradicted: true;
  readonly publicKey: string;
  readonly warning: string;
}

/** What one check concludes about a peer the relay calls deleted. */
export type DeletionConclusion = PeerDeletedError | DeletionUnverifiedError | DeletionContradicted;

/** What one run concluded about each deleted contact (a history page asks for every packet). */
const concluded = new WeakMap<Profile, Map<string, DeletionConclusion>>();

/** Messages of the newest page with the peer that the relay is asked for, to look for a later signature. */
const EVIDENCE_PAGE = 50;

/**
 * Checks the relay's ACCOUNT_DELETED for a peer (docs/protocol.md 5c): the relay's tombstone must
 * name the key pinned here (or, for a peer never pinned, the key the relay had) and carry a deletion
 * request that key signed for this identifier. A request only proves the owner ASKED: a packet the
 * same key signed later (in the local history, or in the newest page the relay serves with them),
 * or a rotation this device followed away from it later, contradicts the claim (DeletionContradicted).
 * Verified and uncontradicted: a PeerDeletedError (ACCOUNT_DELETED); unverified: a
 * DeletionUnverifiedError saying why. The profile is unchanged.
 */
export async function deletedPeerError(
  client: RelayClient,
  profile: Profile,
  identifier: string,
  name: string,
): Promise<DeletionConclusion> {
  let known = concluded.get(profile);
  if (known === undefined) {
    known = new Map();
    concluded.set(profile, known);
  }
  const earlier = known.get(identifier);
  if (earlier !== undefined) return earlier;
  const conclusion = await check(client, profile, identifier, name);
  known.set(identifier, conclusion);
  return conclusion;
}

const day = (time: number) => new Date(time).toISOString().slice(0, 10);

/** The newest time at which `key` signed a packet from `identifier` to me, after `after`, that this device can show. */
async function signedAfter(
  client: RelayClient,
  profile: Profile,
  identifier: string,
  key: PublicKey,
  after: number,
): Promise<number | undefined> {
  let newest: number | undefined;
  try {
    const kept = historyEvidence(profile)?.newestFrom(identifier);
    if (kept !== undefined && kept > after) newest = kept;
  } catch {
    // A history that fails now is not evidence either way; the relay's page still is.
  }
  let packets: readonly StreamRecord[] = [];
  try {
    packets = (await client.history(identifier, undefined, EVIDENCE_PAGE)).packets;
  } catch (error) {
    if (!(error instanceof RelayRefusedError || error instanceof MetaChatError)) throw error;
  }
  for (const stored of packets) {
    if (isGroupRecord(stored)) continue;
    const { packet } = stored;
    if (packet.from !== identifier || packet.to !== profile.identifier) continue;
    if (packet.time <= after || (newest !== undefined && packet.time <= newest)) continue;
    try {
      verifyPacketSignature(packet, key);
      newest = packet.time;
    } catch (error) {
      if (!(error instanceof MetaChatError)) throw error;
    }
  }
  return newest;
}

async function check(
  client: RelayClient,
  profile: Profile,
  identifier: string,
  name: string,
): Promise<DeletionConclusion> {
  const peer = profile.peers[identifier];
  const pinned = peer?.publicKey;
  const unverified = (why: string) =>
    new DeletionUnverifiedError(
      `WARNING: the relay says ${name} deleted the account, but shows no request to delete it signed by ${name}'s key (${why}). Nothing was sent. The relay may be cutting you off: ask ${name} another way.`,
    );
  let served;
  try {
    served = await client.deletion(identifier);
  } catch (error) {
    if (error instanceof RelayRefusedError || error instanceof MetaChatError)
      return unverified(`${error.code}: ${error.message}`);
    throw error;
  }
  const asked = served.statement.time;
  const contradicted = (what: string): DeletionContradicted => ({
    contradicted: true,
    publicKey: pinned ?? served.publicKey,
    warning: `WARNING: the relay says ${name} deleted the account and shows ${name}'s signed request to delete it (${day(asked)}), but ${what}, after that request: the relay's claim is false, the request did not delete the account. ${name} is shown as active; messages go to the key ${pinned === undefined ? 'that signed both' : 'pinned here'}.`,
  });
  if (pinned !== undefined && served.publicKey !== pinned) {
    // A key this device saw replaced by a rotation signed after the request: the owner went on.
    const rotated = peer?.replacedKeys?.find((old) => old.publicKey === served.publicKey);
    if (rotated !== undefined && rotated.until > asked) {
      try {
        verifyAccountDeletion(importPublicKey(rotated.publicKey), identifier, served.statement);
        return contradicted(
          `${name}'s key was replaced by a rotation it signed on ${day(rotated.until)}`,
        );
      } catch (error) {
        if (!(error instanceof MetaChatError)) throw error;
      }
    }
    return unverified('the deletion request names another key than the one pinned here');
  }
  let key: PublicKey;
  try {
    key = importPublicKey(pinned ?? served.publicKey);
    verifyAccountDeletion(key, identifier, served.statement);
  } catch (error) {
    if (error instanceof MetaChatError) return unverified(`${error.code}: ${error.message}`);
    throw error;
  }
  const later = await signedAfter(client, profile, identifier, key, asked);
  if (later !== undefined) return contradicted(`${name} signed a message on ${day(later)}`);
  const whose =
    pinned !== undefined
      ? 'signed by the key pinned here'
      : 'signed by the key the relay had for them; this device never pinned one';
  return new PeerDeletedError(
    `${name} asked to delete their account on ${day(asked)} (${whose}), and the relay says it is deleted. Nothing was sent: messages to them are refused.`,
  );
}
