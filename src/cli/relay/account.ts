import {
  CredentialsRolledBackError,
  loginProofHashHex,
  signCredentials,
  verifyCredentials,
  type ChangePasswordRequest,
  type CredentialsStatement,
  type KdfParams,
  type PublicKey,
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
import { kdfTargetIterations } from './kdf-target.js';
import {
  rewrapReplacedKeys,
  unwrapReplacedKeys,
  type UnlockedReplacedKey,
} from './replaced-keys.js';
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
  /** Generation of the signed credentials statement in force (0: none yet). */
  readonly credentialsGeneration?: number;
  /** Key pairs this account replaced (`rotate-key`), newest first: old messages open with them. */
  readonly replacedKeys?: readonly UnlockedReplacedKey[];
  /** The password-derived key that wraps the local history key (set once the profile is unlocked). */
  readonly historyWrapKey?: Uint8Array;
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
  const kdf = newKdfParams(undefined, kdfTargetIterations());
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
  seenGeneration = 0,
): Promise<Account> {
  const normalized = normalizeUsername(username);
  const identifier = identifierFromUsername(normalized);
  const kdf = await client.prelogin(identifier);
  const keys = await derivePasswordKeys(password, identifier, kdf);
  const loginProof = bytesToBase64(keys.loginProof);
  const { publicKey, wrappedPrivateKey, credentials, replacedKeys } = await client.login(
    identifier,
    loginProof,
  );
  const privateKey = unwrapServedKey(wrappedPrivateKey, keys.keyEncryptionKey, identifier);
  const keyPair = assertKeyPairMatches(privateKey, importPublicKey(publicKey));
  const credentialsGeneration = checkServedCredentials(
    { identifier, publicKey: keyPair.publicKey, kdf, wrappedPrivateKey, loginProof, credentials },
    seenGeneration,
  );
  const account = {
    username: normalized,
    identifier,
    keyPair,
    wrappedPrivateKey,
    kdf,
    credentialsGeneration,
    replacedKeys: unwrapReplacedKeys(replacedKeys, keys.keyEncryptionKey, identifier),
    historyWrapKey: keys.historyWrapKey,
  };
  return upgradeKdf(client, account, password);
}

/**
 * The KDF upgrade at login: parameters below this client's target (never below the floor: those
 * were refused before deriving) are replaced by the target, with a fresh salt, the key wrapped
 * again and a new proof for the same password, in the same signed `change-password` request as
 * `passwd` (the connection authenticates first). Returns the account with what is now in force.
 */
async function upgradeKdf(
  client: RelayClient,
  account: Account,
  password: string,
): Promise<Account> {
  const target = kdfTargetIterations();
  if (account.kdf.iterations >= target) return account;
  await client.authenticate(account.identifier, account.keyPair.privateKey);
  const change = await prepareCredentialsChange(
    account,
    password,
    password,
    account.credentialsGeneration ?? 0,
    Date.now(),
    target,
  );
  await client.changePassword(change.request);
  return {
    ...account,
    wrappedPrivateKey: change.wrappedPrivateKey,
    kdf: change.kdf,
    credentialsGeneration: change.generation,
    replacedKeys: change.replacedKeys,
  };
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
    ...(account.credentialsGeneration
      ? { credentialsGeneration: account.credentialsGeneration }
      : {}),
    ...(account.replacedKeys?.length
      ? { replacedKeys: account.replacedKeys.map((key) => key.wrapped) }
      : {}),
    shareUsername,
    seenUpTo: 0,
    peers: {},
  };
}

/** What `passwd` (or the KDF upgrade) sends, and what this device saves once the relay took it. */
export interface PreparedChange {
  readonly request: ChangePasswordRequest;
  readonly wrappedPrivateKey: WrappedPrivateKey;
  readonly kdf: KdfParams;
  readonly generation: number;
  /** The replaced key pairs, wrapped again under the new password. */
  readonly replacedKeys: readonly UnlockedReplacedKey[];
  /** The new password's key for the local history key's wrap. */
  readonly historyWrapKey: Uint8Array;
}

/**
 * Builds a `change-password` request: fresh salt and default KDF parameters, the same private key
 * wrapped again, the new proof, the current proof, and the statement signed by the account key.
 * The generation is a millisecond clock reading, above every generation this device saw.
 */
export async function prepareCredentialsChange(
  account: Account,
  currentPassword: string,
  newPassword: string,
  seenGeneration: number,
  now = Date.now(),
  iterations = kdfTargetIterations(),
): Promise<PreparedChange> {
  const { identifier } = account;
  const current = await derivePasswordKeys(currentPassword, identifier, account.kdf);
  const kdf = newKdfParams(undefined, iterations);
  const next = await derivePasswordKeys(newPassword, identifier, kdf);
  const wrappedPrivateKey = wrapPrivateKey(
    account.keyPair.privateKey,
    next.keyEncryptionKey,
    identifier,
  );
  const loginProof = bytesToBase64(next.loginProof);
  const oldLoginProof = bytesToBase64(current.loginProof);
  const generation = Math.max(now, seenGeneration + 1);
  const previousProofHash = loginProofHashHex(oldLoginProof);
  const signature = signCredentials(account.keyPair.privateKey, {
    identifier,
    generation,
    kdf,
    wrappedPrivateKey,
    loginProofHash: loginProofHashHex(loginProof),
    previousProofHash,
  });
  const rewrapped = rewrapReplacedKeys(
    account.replacedKeys ?? [],
    next.keyEncryptionKey,
    identifier,
  );
  return {
    request: {
      identifier,
      kdf,
      wrappedPrivateKey,
      loginProof,
      oldLoginProof,
      statement: { generation, previousProofHash, signature },
      ...(rewrapped.length === 0 ? {} : { replacedKeys: rewrapped }),
    },
    wrappedPrivateKey,
    kdf,
    generation,
    historyWrapKey: next.historyWrapKey,
    replacedKeys: (account.replacedKeys ?? []).map((key, i) => ({
      ...key,
      wrapped: rewrapped[i] ?? key.wrapped,
    })),
  };
}

/**
 * Checks what a login served against the statement the account key signed, and against the newest
 * generation this device saw: a relay that replays an older wrap, or keeps an old proof working by
 * serving the old settings, is caught here. Returns the generation now in force.
 */
export function checkServedCredentials(
  served: {
    identifier: string;
    publicKey: PublicKey;
    kdf: KdfParams;
    wrappedPrivateKey: WrappedPrivateKey;
    loginProof: string;
    credentials?: CredentialsStatement | undefined;
  },
  seenGeneration: number,
): number {
  const statement = served.credentials;
  const generation = statement?.generation ?? 0;
  if (statement !== undefined) {
    verifyCredentials(
      served.publicKey,
      {
        identifier: served.identifier,
        generation,
        kdf: served.kdf,
        wrappedPrivateKey: served.wrappedPrivateKey,
        loginProofHash: loginProofHashHex(served.loginProof),
        previousProofHash: statement.previousProofHash,
      },
      statement.signature,
    );
  }
  if (generation < seenGeneration) {
    throw new CredentialsRolledBackError(
      'The relay served password settings older than the ones this device set or saw: it is replaying an old wrapped key (or kept an old password working). Nothing was saved; do not trust this relay with a new login.',
    );
  }
  return generation;
}
