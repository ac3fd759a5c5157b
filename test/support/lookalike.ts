import type { Account } from '../../src/cli/relay/account.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { prepareRegistration } from '../../src/cli/relay/account.js';
import type { TestUser } from './relay-harness.js';

/**
 * Registers an identifier of the attacker's choosing: the victim's first `digits` hex digits and
 * random ones after. The relay cannot tell an identifier from a username's hash, so this works on
 * any relay; such a user has no name it could prove (a hello's username must hash to `from`).
 */
export async function registerLookalike(
  url: string,
  victim: string,
  digits: number,
  password = 'correct horse battery',
): Promise<TestUser> {
  const { account, request } = await prepareRegistration(
    `lookalike-${Math.random().toString(36).slice(2, 10)}`,
    password,
  );
  let identifier = victim.slice(0, digits);
  while (identifier.length < 64) identifier += Math.floor(Math.random() * 16).toString(16);
  // The digit after the shared prefix differs, so it is a different peer.
  const next =
    identifier[digits] === victim[digits]
      ? ((parseInt(victim[digits] ?? '0', 16) + 1) % 16).toString(16)
      : identifier[digits];
  identifier = identifier.slice(0, digits) + (next ?? '0') + identifier.slice(digits + 1);
  const client = await RelayClient.connect(url);
  await client.register({ ...request, identifier });
  const lookalike: Account = { ...account, identifier };
  await client.authenticate(identifier, lookalike.keyPair.privateKey);
  return { ...lookalike, client, password };
}
