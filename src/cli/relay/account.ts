import {
  assertKeyPairMatches,
  assertPasswordAcceptable,
  bytesToBase64,
  derivePasswordKeys,
  generateKeyPair,
  identifierFromUsername,
  importPublicKey,
  newKdfParams,
  normalizeUsername,
  unwrapPrivateKey,
  WrongPasswordError,
  wrapPrivateKey,
  type KeyPair,
  type PrivateKey,
  type WrappedPrivateKey,
  type RegisterRequest,
} from '../../core/index.js';
import { WrappedKeyRejectedError } from '../cli-errors.js';
import type { Profile } from '../profile/profile.js';
import type { RelayClient } from './relay-client.js';

/** A user's identity once registered or logged in on this device. */
export interface Account {
  readonly username: string;
  readonly identifier: string;
  readonly keyPair: KeyPair;
  /** What the relay stores, and this device keeps in its profile (never the unwrapped key). */
  readonly wrappedPrivateKey: RegisterRequest['wrappedPrivateKey'];
  readonly kdf: RegisterRequest['kdf'];
}

/**
 * Everything for `register`, built locally: the password and the unwrapped key never leave. A key
 * pair made for a username that turned out to be taken may be given again for the next one.
 */
export async function prepareRegistration(
  username: string,
  password: string,
  reuse?: KeyPair,
): Promise<{ account: Account; request: RegisterRequest }> {
  const normalized = normalizeUsername(username);
  assertPasswordAcceptable(password);
  const identifier = identifierFromUsername(normalized);
  const keyPair = reuse ?? (await generateKeyPair());
  const kdf = newKdfParams();
  const keys = await derivePasswordKeys(password, identifier, kdf);
  const wrappedPrivateKey = wrapPrivateKey(keyPair.privateKey, keys.keyEncryptionKey, identifier);
  return {
    account: { username: normalized, identifier, keyPair, wrappedPrivateKey, kdf },
    request: {
      identifier,
      publicKey: keyPair.publicKey.encoded,
      wrappedPrivateKey,
      kdf,
      loginProof: bytesToBase64(keys.loginProof),
    },
  };
}

/** Registers a new account on the relay. */
export async function registerAccount(
  client: RelayClient,
  username: string,
  password: string,
): Promise<Account> {
  const { account, request } = await prepareRegistration(username, password);
  await client.register(request);
  return account;
}

/**
 * Logs in on a new device: prelogin, KDF (refusing parameters below the floor), login, unwrap,
 * and a check that the unwrapped private key belongs to the public key the relay handed out.
 */
export async function loginAccount(
  client: RelayClient,
  username: string,
  password: string,
): Promise<Account> {
  const normalized = normalizeUsername(username);
  const identifier = identifierFromUsername(normalized);
  const kdf = await client.prelogin(identifier);
  const keys = await derivePasswordKeys(password, identifier, kdf);
  const { publicKey, wrappedPrivateKey } = await client.login(
    identifier,
    bytesToBase64(keys.loginProof),
  );
  const privateKey = unwrapServedKey(wrappedPrivateKey, keys.keyEncryptionKey, identifier);
  const keyPair = assertKeyPairMatches(privateKey, importPublicKey(publicKey));
  return { username: normalized, identifier, keyPair, wrappedPrivateKey, kdf };
}

/** Unwraps the key the relay sent once it accepted the proof: failing here is the relay's fault. */
function unwrapServedKey(
  wrapped: WrappedPrivateKey,
  keyEncryptionKey: Uint8Array,
  identifier: string,
): PrivateKey {
  try {
    return unwrapPrivateKey(wrapped, keyEncryptionKey, identifier);
  } catch (error) {
    if (!(error instanceof WrongPasswordError)) throw error;
    throw new WrappedKeyRejectedError(
      'The relay accepted the login, but the private key it sent does not decrypt with this password. ' +
        'An honest relay refuses a wrong password before sending the key: this relay is lying or its data is damaged. Nothing was saved.',
      { cause: error },
    );
  }
}

/** A fresh profile for an account this device just registered or logged in to. */
export function newProfile(account: Account, server: string, shareUsername: boolean): Profile {
  return {
    v: 1,
    server,
    username: account.username,
    identifier: account.identifier,
    publicKey: account.keyPair.publicKey.encoded,
    wrappedPrivateKey: account.wrappedPrivateKey,
    kdf: account.kdf,
    shareUsername,
    seenUpTo: 0,
    peers: {},
  };
}
