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

/** An unlocked profile with a live, authenticated connection to its relay. */
export interface Session {
  readonly home: string;
  readonly profile: Profile;
  readonly account: Account;
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
  };
}

/** Loads the profile, unlocks it, connects to its relay and authenticates. */
export async function openSession(
  home: string,
  server: string | undefined,
  password: () => Promise<string>,
  reconnect: false | Pick<ConnectOptions, 'onWaiting'> = false,
  beforeAuthenticate?: (client: RelayClient) => void,
): Promise<Session> {
  const profile = await loadProfile(home);
  const account = await unlock(profile, await password());
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
  return { home, profile, account, client };
}
