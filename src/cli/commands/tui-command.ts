import { UsageError } from '../cli-errors.js';
import type { CliContext } from '../cli-context.js';
import { loadOutbox } from '../outgoing/outbox.js';
import { WrongPasswordError } from '../../core/index.js';
import type { Account } from '../relay/account.js';
import { parsePeerAddress, usernameNotice } from '../profile/peers.js';
import { loadProfile, type Profile } from '../profile/profile.js';
import { RelayClient } from '../relay/relay-client.js';
import { unlock } from '../relay/session.js';
import { ChatController } from '../tui/chat-controller.js';
import { attachHistory, type HistoryHolder } from '../history/history-access.js';

/** The variables that put Ink into its CI mode, where it draws nothing until the program exits. */
const CI_VARIABLES = ['CI', 'CONTINUOUS_INTEGRATION'] as const;

/**
 * Loads Ink and the screen only when the TUI runs (the scriptable commands never pay for React),
 * with Ink's CI detection off: the terminal was checked to be real, so a CI variable exported
 * by the shell must not leave it blank.
 */
async function loadScreen(): Promise<typeof import('../tui/run-tui.js')> {
  const saved = CI_VARIABLES.map((name) => [name, process.env[name]] as const);
  for (const name of CI_VARIABLES) Reflect.deleteProperty(process.env, name);
  try {
    return await import('../tui/run-tui.js');
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}

/** How many times a wrong password typed at the prompt is asked again before giving up. */
const PASSWORD_TRIES = 3;

/** Unlocks the profile; a wrong password typed at the terminal is asked for again (scripts fail at once). */
async function unlockAsking(ctx: CliContext, profile: Profile): Promise<Account> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await unlock(profile, await ctx.password(false));
    } catch (error) {
      if (!(error instanceof WrongPasswordError)) throw error;
      if (!ctx.promptsForPassword() || attempt >= PASSWORD_TRIES) throw error;
      process.stderr.write('Wrong password; try again.\n');
      ctx.forgetPassword();
    }
  }
}

/**
 * `metachat chat [peer]` and a bare `metachat`: the Ink TUI. The password is asked before the
 * screen takes over; the relay link starts in the background, so the TUI also works offline.
 */
export async function tuiCommand(ctx: CliContext, peerArg: string | undefined): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(
      'The chat screen needs a terminal. In scripts use "metachat send <peer> <text>", "metachat history <peer>" and "metachat listen".',
    );
  }
  const home = ctx.home();
  const profile = await loadProfile(home);
  if (peerArg !== undefined) {
    // Said before the password is asked: a peer that cannot be named, or how a name was taken.
    const notice = usernameNotice(parsePeerAddress(peerArg, profile));
    if (notice !== null) process.stderr.write(`metachat: ${notice}\n`);
  }
  const account = await unlockAsking(ctx, profile);
  const outbox = await loadOutbox(home);
  // Opened before the screen takes over: a locked or damaged history is said on stderr.
  const holder: HistoryHolder = { home, profile, account };
  const history = await attachHistory(holder);
  const client = RelayClient.persistent(ctx.server() ?? profile.server);
  const controller = new ChatController({ home, profile, account, client, outbox, history });
  const resolved = peerArg === undefined ? null : controller.resolve(peerArg);
  if (peerArg !== undefined && resolved === null) {
    throw new UsageError(controller.getSnapshot().notice?.text ?? 'Unknown peer.');
  }
  // An id#fingerprint opens its chat only once the relay's key matched: until then, the inbox.
  const initialPeer = typeof resolved === 'string' ? resolved : null;
  const pending = resolved instanceof Promise ? resolved : null;
  if (initialPeer !== null) controller.openChat(initialPeer);
  const { runTui } = await loadScreen();
  controller.start();
  const result = await runTui(controller, initialPeer, pending);
  const {
    unsent = 0,
    dropped = 0,
    ended,
  } = (result ?? {}) as { unsent?: number; dropped?: number; ended?: string };
  if (ended !== undefined) process.stderr.write(`metachat: ${ended}\n`);
  if (unsent > 0) {
    process.stderr.write(
      `metachat: ${String(unsent)} message(s) not yet acknowledged are kept in the outbox and sent next time.\n`,
    );
  }
  if (dropped > 0) {
    process.stderr.write(
      `metachat: ${String(dropped)} message(s) were not sent: the peer's key could not be fetched before you quit.\n`,
    );
  }
}
