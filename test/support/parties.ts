import {
  base64ToBytes,
  generateKeyPair,
  identifierFromUsername,
  importPrivateKey,
  keyPairFromPrivate,
  type KeyPair,
} from '../../src/core/index.js';
import { readVector, type KeysVector } from './vectors.js';

/** A test user: identifier and parsed keys. */
export interface Party {
  readonly identifier: string;
  readonly keyPair: KeyPair;
}

function party(username: string, pkcs8Base64: string): Party {
  return {
    identifier: identifierFromUsername(username),
    keyPair: keyPairFromPrivate(importPrivateKey(base64ToBytes(pkcs8Base64))),
  };
}

const keys = readVector('keys') as KeysVector;

/** Alice, from the vectors' fixed key pair. */
export const alice = party(keys.alice.username, keys.alice.privateKey);
/** Bob, from the vectors' fixed key pair. */
export const bob = party(keys.bob.username, keys.bob.privateKey);

/** A third user with a freshly generated key of its own. */
export async function newParty(username: string): Promise<Party> {
  return { identifier: identifierFromUsername(username), keyPair: await generateKeyPair() };
}
