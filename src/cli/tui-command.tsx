import { render } from 'ink';
import { UsageError } from './cli-errors.js';
import type { CliContext } from './main.js';
import { loadOutbox } from './outbox.js';
import { loadProfile } from './profile.js';
import { RelayClient } from './relay-client.js';
import { unlock } from './session.js';
import { App } from './tui/App.js';
import { ChatController } from './tui/chat-controller.js';

/** Switches to the terminal's alternate screen, so quitting gives the shell its scrollback back. */
const ENTER_ALT_SCREEN = '\u001b[?1049h\u001b[H';
const LEAVE_ALT_SCREEN = '\u001b[?1049l';

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
  const account = await unlock(profile, await ctx.password(false));
  const outbox = await loadOutbox(home);
  const client = RelayClient.persistent(ctx.server() ?? profile.server);
  const controller = new ChatController({ home, profile, account, client, outbox });
  const initialPeer = peerArg === undefined ? null : controller.resolve(peerArg);
  if (peerArg !== undefined && initialPeer === null) {
    throw new UsageError(controller.getSnapshot().notice?.text ?? 'Unknown peer.');
  }
  if (initialPeer !== null) controller.openChat(initialPeer);
  controller.start();
  process.stdout.write(ENTER_ALT_SCREEN);
  let result: unknown;
  try {
    const instance = render(<App controller={controller} initialPeer={initialPeer} />, {
      exitOnCtrlC: false,
    });
    result = await instance.waitUntilExit();
  } finally {
    process.stdout.write(LEAVE_ALT_SCREEN);
  }
  const { unsent = 0, dropped = 0 } = (result ?? {}) as { unsent?: number; dropped?: number };
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
