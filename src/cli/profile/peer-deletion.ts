import { importPublicKey, MetaChatError, verifyAccountDeletion } from '../../core/index.js';
import { DeletionUnverifiedError, PeerDeletedError } from '../cli-errors.js';
import { RelayRefusedError, type RelayClient } from '../relay/relay-client.js';
import type { Profile } from './profile.js';

/** What one run concluded about each deleted contact (a history page asks for every packet). */
const concluded = new WeakMap<Profile, Map<string, PeerDeletedError | DeletionUnverifiedError>>();

/**
 * Checks the relay's ACCOUNT_DELETED for a peer (docs/protocol.md 5c): the relay's tombstone must
 * name the key pinned here (or, for a peer never pinned, the key the relay had) and carry a deletion
 * statement that key signed for this identifier. Verified: a PeerDeletedError (ACCOUNT_DELETED);
 * otherwise a DeletionUnverifiedError saying why. Either way nothing can be sent; the profile is unchanged.
 */
export async function deletedPeerError(
  client: RelayClient,
  profile: Profile,
  identifier: string,
  name: string,
): Promise<PeerDeletedError | DeletionUnverifiedError> {
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

async function check(
  client: RelayClient,
  profile: Profile,
  identifier: string,
  name: string,
): Promise<PeerDeletedError | DeletionUnverifiedError> {
  const pinned = profile.peers[identifier]?.publicKey;
  const unverified = (why: string) =>
    new DeletionUnverifiedError(
      `WARNING: the relay says ${name} deleted the account, but shows no statement signed by ${name}'s key (${why}). Nothing was sent. The relay may be cutting you off: ask ${name} another way.`,
    );
  let served;
  try {
    served = await client.deletion(identifier);
  } catch (error) {
    if (error instanceof RelayRefusedError || error instanceof MetaChatError)
      return unverified(`${error.code}: ${error.message}`);
    throw error;
  }
  if (pinned !== undefined && served.publicKey !== pinned)
    return unverified('the deletion names another key than the one pinned here');
  try {
    const key = importPublicKey(pinned ?? served.publicKey);
    verifyAccountDeletion(key, identifier, served.statement);
  } catch (error) {
    if (error instanceof MetaChatError) return unverified(`${error.code}: ${error.message}`);
    throw error;
  }
  const day = new Date(served.statement.time).toISOString().slice(0, 10);
  const whose =
    pinned !== undefined
      ? 'signed by the key pinned here'
      : 'signed by the key the relay had for them; this device never pinned one';
  return new PeerDeletedError(
    `${name} deleted their account on ${day} (the deletion is ${whose}). Nothing was sent: messages to them are refused.`,
  );
}
