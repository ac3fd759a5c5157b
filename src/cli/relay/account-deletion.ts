import {
  bytesToBase64,
  derivePasswordKeys,
  signAccountDeletion,
  type DeleteAccountRequest,
} from '../../core/index.js';
import type { Account } from './account.js';
import type { RelayClient } from './relay-client.js';

/**
 * Deletes the account on the relay over an authenticated connection: the current login proof
 * (derived here from the password), and a deletion statement the account key signs over a fresh
 * challenge of this connection (docs/protocol.md 5c). Resolves once the relay has deleted it;
 * `onSigned` runs as the signed request leaves (a relay that then refuses still holds it).
 */
export async function deleteAccountOnRelay(
  client: RelayClient,
  account: Pick<Account, 'identifier' | 'keyPair' | 'kdf'>,
  password: string,
  now: number = Date.now(),
  onSigned: () => void = () => undefined,
): Promise<DeleteAccountRequest> {
  const keys = await derivePasswordKeys(password, account.identifier, account.kdf);
  const nonce = await client.challenge();
  const request: DeleteAccountRequest = {
    identifier: account.identifier,
    loginProof: bytesToBase64(keys.loginProof),
    statement: signAccountDeletion(account.identifier, nonce, now, account.keyPair),
  };
  // From here the relay holds the signed request, whatever it answers.
  onSigned();
  await client.deleteAccount(request);
  return request;
}
