import { importPublicKey, safetyNumber } from '../../core/index.js';
import { KeyChangedError, UsageError } from '../cli-errors.js';
import type { CliContext } from '../cli-context.js';
import { parsePeerAddress } from '../profile/peers.js';
import { loadProfile, saveProfile, type PeerRecord } from '../profile/profile.js';
import { withSession } from './with-session.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';

/** How far this device trusts a peer's key, as `verify --json` reports it. */
export type KeyState = 'pinned' | 'verified' | 'changed';

/** What `verify` concluded: the key to show, its state, and the peer record to save (if any). */
interface Verdict {
  readonly key: string;
  readonly state: KeyState;
  readonly record?: PeerRecord;
  /** Set when the key the relay served differs from the pinned one. */
  readonly pinned?: string;
}

/**
 * Decides `verify` from what this device holds and what the relay serves now. Without --trust the
 * key in question is shown and remembered as shown (pinned at first contact, as a first message
 * would). `--trust` accepts only that shown key, or one whose fingerprint the user gave: never a
 * key the relay (or another command's lookup) put in place since the user last looked.
 */
function decide(
  peer: PeerRecord,
  served: string | undefined,
  vouched: string | undefined,
  trust: boolean,
  name: string,
): Verdict {
  const { changedKey: _change, shownKey: _shown, disputed, ...base } = peer;
  const pinned = peer.publicKey;
  // The relay's current answer; if it refused, what this device last heard.
  const current = served ?? peer.changedKey ?? pinned;
  if (current === undefined)
    throw new UsageError('No key is known for this peer: is the identifier right?');
  const changed = (pinned !== undefined && current !== pinned) || disputed === true;
  if (trust || vouched !== undefined) {
    const compared = current === peer.shownKey || vouched !== undefined;
    if (!compared) {
      if (changed)
        throw new KeyChangedError(
          `The relay now serves a key for ${name} that you have not compared yet; nothing was trusted. Run "metachat verify ${name}" and compare its safety number first.`,
        );
      throw new UsageError(
        `Compare the safety number first: run "metachat verify ${name}", then add --trust if it matches.`,
      );
    }
    // A fingerprint given for a changed key still needs --trust to replace the pinned one.
    if (!changed || trust)
      return {
        key: current,
        state: 'verified',
        record: { ...base, publicKey: current, verified: true },
      };
  }
  if (changed) {
    return {
      key: current,
      state: 'changed',
      record: {
        ...base,
        publicKey: pinned ?? current,
        changedKey: current === pinned ? (peer.changedKey ?? current) : current,
        shownKey: current,
        ...(disputed === true ? { disputed } : {}),
      },
      ...(pinned === undefined ? {} : { pinned }),
    };
  }
  const state = peer.verified === true ? 'verified' : 'pinned';
  return { key: current, state, record: { ...base, publicKey: current, shownKey: current } };
}

/**
 * `verify`: the safety number to compare with the peer out of band. When the relay serves a key
 * that differs from the pinned one, the number shown is the new key's (the one to compare), and the
 * change is recorded so nothing is sent to it. `--trust`, once the numbers match, accepts that
 * shown key and marks it verified.
 */
export async function verifyCommand(
  ctx: CliContext,
  peerArg: string,
  trust: boolean,
): Promise<void> {
  // The relay answers key lookups on an authenticated connection only.
  await withSession(ctx, async (session) => {
    const { human, json } = await verifyPeer(session, peerArg, trust);
    ctx.print(human, json);
  });
}

/** What `verify --json` prints and the JSON-RPC `verify` method returns. */
export interface VerifyResult {
  readonly id: string;
  readonly safetyNumber: string;
  readonly fingerprint: string;
  readonly state: KeyState;
  readonly pinnedFingerprint?: string;
}

/**
 * The work of `verify` on an open session: looks the key up, decides, records the verdict in the
 * profile (saved when the session closes), and returns the safety number and what to tell the user.
 */
export async function verifyPeer(
  { client, profile }: Pick<Session, 'client' | 'profile'>,
  peerArg: string,
  trust: boolean,
): Promise<{ human: string; json: VerifyResult }> {
  const address = parsePeerAddress(peerArg, profile);
  if (address.identifier === profile.identifier) {
    throw new UsageError(
      `That is your own identifier; your key fingerprint is ${importPublicKey(profile.publicKey).fingerprint} ("metachat whoami").`,
    );
  }
  const peer = profile.peers[address.identifier] ?? {};
  let served: string | undefined;
  try {
    served = await client.key(address.identifier);
  } catch (error) {
    if (!(error instanceof RelayRefusedError)) throw error;
  }
  const name = peer.alias ?? peer.username ?? peerArg;
  const verdict = decide(peer, served, address.fingerprint, trust, name);
  const key = importPublicKey(verdict.key);
  if (address.fingerprint !== undefined && key.fingerprint !== address.fingerprint)
    throw new UsageError('That key does not have the fingerprint you gave; not trusting it.');
  // Saved with the rest of the profile when the session closes.
  if (verdict.record !== undefined) profile.peers[address.identifier] = verdict.record;
  const number = safetyNumber(
    { identifier: profile.identifier, publicKey: importPublicKey(profile.publicKey) },
    { identifier: address.identifier, publicKey: key },
  );
  const pinnedFingerprint =
    verdict.pinned === undefined ? undefined : importPublicKey(verdict.pinned).fingerprint;
  const json: VerifyResult = {
    id: address.identifier,
    safetyNumber: number,
    fingerprint: key.fingerprint,
    state: verdict.state,
    ...(pinnedFingerprint === undefined ? {} : { pinnedFingerprint }),
  };
  const human =
    verdict.state === 'changed'
      ? [
          `WARNING: the relay now serves a different key for ${name}. Nothing will be sent to ${name} until you accept it.`,
          `Safety number with the new key (compare it with ${name} in person or over another channel):`,
          number,
          `new key fingerprint:    ${key.fingerprint}`,
          `pinned key fingerprint: ${pinnedFingerprint ?? ''}`,
          `If the numbers match, accept the new key: metachat verify ${peerArg} --trust`,
        ]
      : [
          `Safety number with ${name}:`,
          number,
          `key fingerprint: ${key.fingerprint} (${verdict.state === 'verified' ? 'verified' : 'pinned, not verified: compare the number, then run verify --trust'})`,
        ];
  return { human: human.join('\n'), json };
}

/** `alias`: a local nickname for a peer, usable wherever a peer is expected. */
export async function aliasCommand(ctx: CliContext, peerArg: string, name: string): Promise<void> {
  if (!/^[\p{L}\p{N}._-]{1,64}$/u.test(name) || /^[0-9a-f]{64}$/.test(name)) {
    throw new UsageError(
      'An alias is 1 to 64 letters, digits, dots, underscores or hyphens, and not an identifier.',
    );
  }
  const home = ctx.home();
  const profile = await loadProfile(home);
  const address = parsePeerAddress(peerArg, profile);
  for (const peer of Object.values(profile.peers)) if (peer.alias === name) delete peer.alias;
  profile.peers[address.identifier] = { ...(profile.peers[address.identifier] ?? {}), alias: name };
  await saveProfile(home, profile);
  ctx.print(`${name} → ${address.identifier}`, { id: address.identifier, alias: name });
}
