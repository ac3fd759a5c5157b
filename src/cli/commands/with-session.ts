import type { CliContext } from '../cli-context.js';
import { flushOutbox } from '../outgoing/outbox-flush.js';
import { onKeyReplaced } from '../profile/key-replacements.js';
import { saveProfile } from '../profile/profile.js';
import type { ConnectOptions, RelayClient } from '../relay/relay-client.js';
import { connectUnlocked, openUnlocked, type Session, type Unlocked } from '../relay/session.js';

/** Tells the user what the flush of the chat screen's queue did, on stderr (stdout stays the command's). */
function reportFlush(sent: number, refused: number): void {
  if (sent > 0)
    process.stderr.write(
      `metachat: first sent ${sent} message${sent === 1 ? '' : 's'} the chat screen had queued.\n`,
    );
  if (refused > 0)
    process.stderr.write(
      `metachat: the relay refused ${refused} queued message${refused === 1 ? '' : 's'}; open "metachat chat" to see why and retry.\n`,
    );
}

/**
 * Opens a session for one command, sends what the chat screen left queued (in order, before
 * anything else), and always closes it and saves what it learned (pins, names, markers).
 */
export async function withSession<T>(
  ctx: CliContext,
  run: (session: Session) => Promise<T>,
  reconnect: false | Pick<ConnectOptions, 'onWaiting'> = false,
  beforeAuthenticate?: (client: RelayClient) => void,
): Promise<T> {
  const unlocked = await openUnlocked(ctx.home(), () => ctx.password(false));
  return withUnlockedSession(ctx, unlocked, run, reconnect, beforeAuthenticate);
}

/**
 * withSession for a profile already unlocked (a command that read its local history first); the
 * history attached to it is closed at the end, whether or not the relay could be reached.
 */
export async function withUnlockedSession<T>(
  ctx: CliContext,
  unlocked: Unlocked,
  run: (session: Session) => Promise<T>,
  reconnect: false | Pick<ConnectOptions, 'onWaiting'> = false,
  beforeAuthenticate?: (client: RelayClient) => void,
): Promise<T> {
  let session: Session;
  try {
    session = await connectUnlocked(unlocked, ctx.server(), reconnect, beforeAuthenticate);
  } catch (error) {
    unlocked.history?.close();
    throw error;
  }
  onKeyReplaced(session.profile, (line) => {
    process.stderr.write(`metachat: ${line}\n`);
  });
  try {
    const { sent, refused } = await flushOutbox(session);
    reportFlush(sent, refused);
    return await run(session);
  } finally {
    session.client.close();
    session.history?.close();
    await saveProfile(session.home, session.profile);
  }
}
