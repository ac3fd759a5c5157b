import {
  assertKeyPairMatches,
  derivePasswordKeys,
  importPublicKey,
  unwrapPrivateKey,
} from '../../core/index.js';
import type { Account } from './account.js';
import { unwrapReplacedKeys } from './replaced-keys.js';
import { loadProfile, type Profile } from '../profile/profile.js';
import { RelayClient, type ConnectOptions } from './relay-client.js';
import type { HistoryStore } from '../history/history-store.js';

/** A profile unlocked with its password, before (or without) a connection to the relay. */
export interface Unlocked {
  readonly home: string;
  readonly profile: Profile;
  readonly account: Account;
  /** This device's local history, once a command opened it (attachHistory). */
  history?: HistoryStore | undefined;
}

/** An unlocked profile with a live, authenticated connection to its relay. */
export interface Session extends Unlocked {
  readonly client: RelayClient;
}

/** Unlocks the profile's private key with the password (KDF floor enforced) and checks it matches. */
export async function unlock(profile: Profile, password: string): Promise<Account> {
  const keys = await derivePasswordKeys(password, profile.identifier, profile.kdf);
  const privateKey = unwrapPrivateKey(
    profile.wrappedPrivateKey,
    keys.keyEncryptionKey,
    profile.identifier,
  );
  const keyPair = assertKeyPairMatches(privateKey, importPublicKey(profile.publicKey));
  return {
    username: profile.username,
    identifier: profile.identifier,
    keyPair,
    wrappedPrivateKey: profile.wrappedPrivateKey,
    kdf: profile.kdf,
    ...(profile.credentialsGeneration === undefined
      ? {}
      : { credentialsGeneration: profile.credentialsGeneration }),
    replacedKeys: unwrapReplacedKeys(
      profile.replacedKeys,
      keys.keyEncryptionKey,
      profile.identifier,
    ),
    historyWrapKey: keys.historyWrapKey,
  };
}

/** Loads the profile and unlocks it with the password. */
export async function openUnlocked(
  home: string,
  password: () => Promise<string>,
): Promise<Unlocked> {
  const profile = await loadProfile(home);
  return { home, profile, account: await unlock(profile, await password()) };
}

/** Connects an unlocked profile to its relay (or `server`) and authenticates. */
export async function connectUnlocked(
  unlocked: Unlocked,
  server: string | undefined,
  reconnect: false | Pick<ConnectOptions, 'onWaiting'> = false,
  beforeAuthenticate?: (client: RelayClient) => void,
): Promise<Session> {
  const { profile, account } = unlocked;
  const client = await RelayClient.connect(
    server ?? profile.server,
    reconnect === false ? {} : { reconnect: true, ...reconnect },
  );
  beforeAuthenticate?.(client);
  try {
    await client.authenticate(account.identifier, account.keyPair.privateKey);
  } catch (error) {
    client.close();
    throw error;
  }
  // The same object, so what a command attached to it (the history) stays with the session.
  return Object.assign(unlocked, { client });
}

/** Loads the profile, unlocks it, connects to its relay and authenticates. */
export async function openSession(
  home: string,
  server: string | undefined,
  password: () => Promise<string>,
  reconnect: false | Pick<ConnectOptions, 'onWaiting'> = false,
  beforeAuthenticate?: (client: RelayClient) => void,
): Promise<Session> {
  return connectUnlocked(await openUnlocked(home, password), server, reconnect, beforeAuthenticate);
}
