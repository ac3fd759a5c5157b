import { importPublicKey, safetyNumber } from '../core/index.js';
import { UsageError } from './cli-errors.js';
import type { CliContext } from './main.js';
import { parsePeerAddress } from './peers.js';
import { loadProfile, saveProfile } from './profile.js';
import { RelayClient, RelayRefusedError } from './relay-client.js';

/** How far this device trusts a peer's key, as `verify --json` reports it. */
export type KeyState = 'new' | 'pinned' | 'verified' | 'changed';

/**
 * `verify`: the safety number to compare with the peer out of band. When the relay serves a key
 * that differs from the pinned one, the number shown is the new key's (the one to compare), and the
 * change is recorded so nothing is sent to it. With --trust, accepts the key the relay serves now
 * and marks it verified: run it once the numbers match.
 */
export async function verifyCommand(
  ctx: CliContext,
  peerArg: string,
  trust: boolean,
): Promise<void> {
  const home = ctx.home();
  const profile = await loadProfile(home);
  const address = parsePeerAddress(peerArg, profile);
  const peer = profile.peers[address.identifier] ?? {};
  const client = await RelayClient.connect(ctx.server() ?? profile.server);
  let served: string | undefined;
  try {
    served = await client.key(address.identifier);
  } catch (error) {
    if (!(error instanceof RelayRefusedError)) throw error;
  } finally {
    client.close();
  }
  const pinned = peer.publicKey;
  const changed = served ?? peer.changedKey;
  const isChange = pinned !== undefined && changed !== undefined && changed !== pinned;
  const candidate = trust || isChange ? (changed ?? pinned) : (pinned ?? served);
  if (candidate === undefined)
    throw new UsageError('No key is known for this peer: is the identifier right?');
  const key = importPublicKey(candidate);
  if (address.fingerprint !== undefined && key.fingerprint !== address.fingerprint) {
    throw new UsageError('That key does not have the fingerprint you gave; not trusting it.');
  }
  const number = safetyNumber(
    { identifier: profile.identifier, publicKey: importPublicKey(profile.publicKey) },
    { identifier: address.identifier, publicKey: key },
  );
  let state: KeyState;
  if (trust) {
    const { changedKey: _replaced, ...rest } = peer;
    profile.peers[address.identifier] = { ...rest, publicKey: key.encoded, verified: true };
    state = 'verified';
  } else if (isChange) {
    const { verified: _unverified, ...rest } = peer;
    profile.peers[address.identifier] = { ...rest, changedKey: key.encoded };
    state = 'changed';
  } else {
    state = pinned === undefined ? 'new' : peer.verified === true ? 'verified' : 'pinned';
  }
  if (trust || isChange) await saveProfile(home, profile);
  const name = peer.alias ?? peer.username ?? peerArg;
  const pinnedFingerprint = pinned === undefined ? undefined : importPublicKey(pinned).fingerprint;
  const json = {
    id: address.identifier,
    safetyNumber: number,
    fingerprint: key.fingerprint,
    state,
    ...(isChange && !trust ? { pinnedFingerprint } : {}),
  };
  if (isChange && !trust) {
    ctx.print(
      [
        `WARNING: the relay now serves a different key for ${name}. Nothing will be sent to ${name} until you accept it.`,
        `Safety number with the new key (compare it with ${name} in person or over another channel):`,
        number,
        `new key fingerprint:    ${key.fingerprint}`,
        `pinned key fingerprint: ${pinnedFingerprint ?? ''}`,
        `If the numbers match, accept the new key: metachat verify ${peerArg} --trust`,
      ].join('\n'),
      json,
    );
    return;
  }
  const label = {
    new: 'not pinned yet: pinned when you first write',
    pinned: 'pinned, not verified: compare the number, then run verify --trust',
    verified: 'verified',
    changed: 'changed',
  }[state];
  ctx.print(
    `Safety number with ${name}:\n${number}\nkey fingerprint: ${key.fingerprint} (${label})`,
    json,
  );
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
