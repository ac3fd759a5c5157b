import { normalizeUsername } from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { saveOutbox } from '../outgoing/outbox.js';
import { loadProfile, removeProfile } from '../profile/profile.js';
import { deleteAccountOnRelay } from '../relay/account-deletion.js';
import { withSpinner } from '../terminal/spinner.js';
import { withSession } from './with-session.js';

/** What `delete-account` says before it asks for the confirmation: exactly what the relay does. */
export const DELETION_NOTICE = [
  'Deleting your account removes from the relay: your key directory entry (public key, wrapped private keys, KDF parameters, login proof hash, signed password and key-rotation statements), your delivery cursor, your last-seen time and your failed-login count. Every device of yours is disconnected and can no longer log in.',
  'It does NOT remove the messages: every message you sent or received is also in your contact’s stream and history, so the relay keeps them all as ciphertext it cannot read (with who wrote to whom, when, and their sizes), including messages sent to you that no device of yours fetched. Your contacts keep what they received; groups keep the entries you signed.',
  'The relay keeps a tombstone (your identifier, your last public key and the deletion request you sign now): nobody can register your username for the relay’s retirement period (365 days by default), contacts are shown that you asked to delete your account (your signed request), and after that period a new account under your name shows your contacts a changed key, never silently yours.',
  'This device’s profile (your keys, pins, aliases and unsent messages) is removed once the relay has deleted the account.',
];

/** Said when the relay refuses a deletion it was sent: it holds the signed request all the same. */
export const REQUEST_LEFT =
  'The relay did not delete the account, but it received your signed deletion request and may show it to your contacts as if you had deleted it. Contacts who see a message you sign after it are told the claim is false; to make it void for all of them, run "metachat rotate-key" (your contacts follow the new key, and the request names the old one).';

/**
 * `delete-account`: says what goes and what stays, asks the user to type their username (or takes
 * `--confirm <username>` in a script), then the password, and has the relay delete the account
 * (docs/protocol.md 5c). Once the relay answered, this device's profile and outbox are removed.
 */
export async function deleteAccountCommand(
  ctx: CliContext,
  confirm: string | undefined,
  ask: ((question: string) => Promise<string>) | undefined,
): Promise<void> {
  const home = ctx.home();
  const { username, identifier } = await loadProfile(home);
  for (const paragraph of DELETION_NOTICE) process.stderr.write(`metachat: ${paragraph}\n`);
  let typed = confirm;
  if (typed === undefined) {
    if (!ask) {
      throw new UsageError(
        `Nothing was deleted: confirm with --confirm ${username} (there is no terminal to ask on).`,
      );
    }
    typed = await ask(`Type your username (${username}) to delete this account for good: `);
  }
  let same = false;
  try {
    same = normalizeUsername(typed) === username;
  } catch {
    same = false;
  }
  if (!same) {
    throw new UsageError(
      `Nothing was deleted: the confirmation is not this account's username (${username}).`,
    );
  }
  await withSession(ctx, async (session) => {
    const password = await ctx.password(false);
    const progress = { signed: false };
    try {
      await withSpinner('Deleting the account', () =>
        deleteAccountOnRelay(session.client, session.account, password, Date.now(), () => {
          progress.signed = true;
        }),
      );
    } catch (error) {
      if (progress.signed) process.stderr.write(`metachat: ${REQUEST_LEFT}\n`);
      throw error;
    }
  });
  await saveOutbox(home, []);
  await removeProfile(home);
  ctx.print(
    `Account ${username} deleted. This device's profile is removed; the relay keeps the messages your contacts hold (as ciphertext) and a tombstone of the name.`,
    { deleted: true, username, identifier, profileRemoved: true },
  );
}
