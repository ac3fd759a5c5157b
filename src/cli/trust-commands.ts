import { importPublicKey, safetyNumber } from '../core/index.js';
import { UsageError } from './cli-errors.js';
import type { CliContext } from './main.js';
import { parsePeerAddress } from './peers.js';
import { loadProfile, saveProfile } from './profile.js';
import { RelayClient, RelayRefusedError } from './relay-client.js';

/**
 * `verify`: the safety number to compare with the peer out of band. With --trust, accepts the key
 * the relay serves now (after a change was detected, or to pin a first key deliberately).
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
  const candidate = trust ? (served ?? peer.changedKey) : (peer.publicKey ?? served);
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
  if (trust) {
    const { changedKey: _replaced, ...rest } = peer;
    profile.peers[address.identifier] = { ...rest, publicKey: key.encoded };
    await saveProfile(home, profile);
  }
  const state =
    peer.changedKey !== undefined && !trust
      ? 'CHANGED (not trusted)'
      : trust
        ? 'trusted'
        : 'pinned';
  ctx.print(
    `Safety number with ${peerArg}:\n${number}\nkey fingerprint: ${key.fingerprint} (${state})`,
    {
      id: address.identifier,
      safetyNumber: number,
      fingerprint: key.fingerprint,
      state,
    },
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
