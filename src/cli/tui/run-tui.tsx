import { render } from 'ink';
import { App } from './App.js';
import type { ChatController } from './chat-controller.js';

/** Switches to the terminal's alternate screen, so quitting gives the shell its scrollback back. */
const ENTER_ALT_SCREEN = '\u001b[?1049h\u001b[H';
const LEAVE_ALT_SCREEN = '\u001b[?1049l';

/** Runs the Ink screen on the alternate screen until the user quits; returns what the app exited with. */
export async function runTui(
  controller: ChatController,
  initialPeer: string | null,
): Promise<unknown> {
  process.stdout.write(ENTER_ALT_SCREEN);
  try {
    const instance = render(<App controller={controller} initialPeer={initialPeer} />, {
      exitOnCtrlC: false,
    });
    return await instance.waitUntilExit();
  } finally {
    process.stdout.write(LEAVE_ALT_SCREEN);
  }
}
