import { render } from 'ink';
import { App, type TerminalControl } from './App.js';
import type { ChatController } from './chat-controller.js';

/**
 * Switches to the terminal's alternate screen (so quitting gives the shell its scrollback back)
 * and turns bracketed paste on (so a pasted newline is text, never Enter); and back.
 */
const ENTER_SCREEN = '\u001b[?1049h\u001b[H\u001b[?2004h';
const LEAVE_SCREEN = '\u001b[?2004l\u001b[?1049l';

/** Ctrl+Z: gives the terminal back to the shell, stops, and takes it again on `fg`. */
function suspender(): TerminalControl {
  return {
    suspend: (resumed) => {
      const { stdin, stdout } = process;
      if (process.platform === 'win32') return;
      stdin.setRawMode(false);
      stdout.write(`${LEAVE_SCREEN}\u001b[?25h`);
      process.once('SIGCONT', () => {
        stdin.setRawMode(true);
        // Ink hid the cursor once, at its first frame: hide it again.
        stdout.write(`${ENTER_SCREEN}\u001b[?25l`);
        // The shell drew over the screen, and Ink only writes what changed: draw it all again.
        resumed();
      });
      process.kill(process.pid, 'SIGTSTP');
    },
  };
}

/** Runs the Ink screen on the alternate screen until the user quits; returns what the app exited with. */
export async function runTui(
  controller: ChatController,
  initialPeer: string | null,
  pending: Promise<string | null> | null = null,
): Promise<unknown> {
  process.stdout.write(ENTER_SCREEN);
  try {
    const instance = render(
      <App
        controller={controller}
        initialPeer={initialPeer}
        pending={pending}
        terminal={suspender()}
      />,
      { exitOnCtrlC: false },
    );
    return await instance.waitUntilExit();
  } finally {
    process.stdout.write(LEAVE_SCREEN);
  }
}
