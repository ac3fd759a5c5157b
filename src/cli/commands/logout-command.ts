import { UnsentMessagesError } from '../cli-errors.js';
import type { CliContext } from '../cli-context.js';
import { loadOutbox, OutboxCorruptError, saveOutbox } from '../outgoing/outbox.js';
import { removeProfile } from '../profile/profile.js';

/**
 * `logout`: forgets the account on this device, its profile and its outbox. Refuses while the chat
 * screen still has messages queued for the relay, unless told to drop them.
 */
export async function logoutCommand(ctx: CliContext, discardUnsent: boolean): Promise<void> {
  const home = ctx.home();
  let unsent = 0;
  try {
    unsent = (await loadOutbox(home)).length;
  } catch (error) {
    if (!(error instanceof OutboxCorruptError) || !discardUnsent) throw error;
  }
  if (unsent > 0 && !discardUnsent) {
    throw new UnsentMessagesError(
      `${unsent} message${unsent === 1 ? ' is' : 's are'} not sent yet: open "metachat chat" to send ${unsent === 1 ? 'it' : 'them'}, or log out with --discard-unsent.`,
    );
  }
  await saveOutbox(home, []);
  const removed = await removeProfile(home);
  ctx.print(removed ? 'Logged out.' : 'No profile here.', {
    loggedOut: removed,
    discarded: unsent,
  });
}
