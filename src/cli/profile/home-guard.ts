import { ProfileExistsError } from '../cli-errors.js';
import { loadOutbox, OutboxCorruptError } from '../outgoing/outbox.js';
import { loadProfile, NoProfileError, ProfileCorruptError } from './profile.js';

/** What replacing the account in a --home would lose, counted from its profile and outbox. */
export interface AccountAtHome {
  readonly username: string;
  readonly identifier: string;
  readonly pins: number;
  readonly verified: number;
  readonly aliases: number;
  /** Messages queued but not yet stored by the relay; null when the outbox cannot be read. */
  readonly unsent: number | null;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "3 pinned keys, 1 verified mark, 2 aliases and 1 unsent message", or "no pins". */
export function describeLoss(found: AccountAtHome): string {
  const parts = [
    plural(found.pins, 'pinned key', 'pinned keys'),
    plural(found.verified, 'verified mark', 'verified marks'),
    plural(found.aliases, 'alias', 'aliases'),
  ];
  if (found.unsent === null) parts.push('an unreadable outbox');
  else if (found.unsent > 0) parts.push(plural(found.unsent, 'unsent message', 'unsent messages'));
  return `${parts.slice(0, -1).join(', ')} and ${parts.at(-1) ?? ''}`;
}

/** The account already in `home`, if any; a damaged profile counts as one (it is not thrown away unasked). */
export async function accountAtHome(home: string): Promise<AccountAtHome | 'damaged' | null> {
  let profile;
  try {
    profile = await loadProfile(home);
  } catch (error) {
    if (error instanceof NoProfileError) return null;
    if (error instanceof ProfileCorruptError) return 'damaged';
    throw error;
  }
  let unsent: number | null;
  try {
    unsent = (await loadOutbox(home)).length;
  } catch (error) {
    if (!(error instanceof OutboxCorruptError)) throw error;
    unsent = null;
  }
  const peers = Object.values(profile.peers);
  return {
    username: profile.username,
    identifier: profile.identifier,
    pins: peers.filter((peer) => peer.publicKey !== undefined).length,
    verified: peers.filter((peer) => peer.verified === true).length,
    aliases: peers.filter((peer) => peer.alias !== undefined).length,
    unsent,
  };
}

/**
 * Refuses to `register` or `login` over an account this --home already holds (its pins, verified
 * marks, aliases and queued messages would be lost), unless `force`. Runs before any prompt.
 * Returns what `--force` is about to replace, so the command can say so afterwards.
 */
export async function guardHome(
  home: string,
  force: boolean,
  verb: 'register' | 'login',
): Promise<AccountAtHome | 'damaged' | null> {
  const found = await accountAtHome(home);
  if (found === null || force) return found;
  const doing = verb === 'register' ? 'Registering' : 'Logging in';
  if (found === 'damaged') {
    throw new ProfileExistsError(
      `${home} holds a damaged profile. ${doing} here would replace it: move it away, or add --force.`,
    );
  }
  throw new ProfileExistsError(
    `${home} already holds the account ${found.username} (${found.identifier}). ${doing} here would replace it and lose its ${describeLoss(found)}. Run "metachat logout" first, use another --home, or add --force.`,
  );
}
