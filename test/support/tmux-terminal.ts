import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './cli-process.js';
import type { DaemonProcess } from './daemon-process.js';
import { tempDir } from './relay-harness.js';

/** The repository's root, where the terminal sessions start so `--import tsx` resolves. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The password every terminal test's accounts share. */
export const TERMINAL_PASSWORD = 'correct horse battery';

/** What waiting for a screen may be told: how long, which session, which stderr file to show. */
export interface WaitOptions {
  readonly ms?: number;
  readonly target?: string;
}

/**
 * A tmux server of one test file's own (`-L`), so terminal tests never see each other's sessions,
 * with the screen reads and waits every terminal test needs.
 */
export class TmuxTerminal {
  /** The file whose text a failed wait shows beside the screen: the program's stderr. */
  stderrFile = '';

  constructor(
    private readonly socket: string,
    private readonly defaultTarget: string,
  ) {
    // A real terminal is part of what these tests prove: without tmux they fail, they do not skip.
    execFileSync('tmux', ['-V']);
  }

  /** Runs one tmux command on this server and returns what it printed. */
  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /** The pane as text (capture-pane's last newline dropped), or with its attributes as escapes. */
  screen(target = this.defaultTarget, escapes = false): string {
    return this.tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', target).replace(
      /\n$/,
      '',
    );
  }

  /** Waits for the screen to satisfy `predicate`; on a timeout, fails with the screen and stderr. */
  async waitForScreen(
    predicate: (text: string) => boolean,
    what: string,
    options: WaitOptions = {},
  ): Promise<string> {
    const target = options.target ?? this.defaultTarget;
    const deadline = Date.now() + (options.ms ?? 20_000);
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen(target);
      if (predicate(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    let stderr = '(none)';
    try {
      if (this.stderrFile !== '') stderr = readFileSync(this.stderrFile, 'utf8');
    } catch {
      // No stderr written yet.
    }
    throw new Error(`timed out waiting for ${what}; the screen was:\n${last}\nstderr:\n${stderr}`);
  }

  /** Types `text` literally into a pane, then presses Enter. */
  typeLine(text: string, target = this.defaultTarget): void {
    this.tmux('send-keys', '-t', target, '-l', text);
    this.tmux('send-keys', '-t', target, 'Enter');
  }

  /** Stops this test file's tmux server, whatever is left running in it. */
  close(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // Already gone.
    }
  }
}

/** `metachat <args>` from the sources, as one shell-quoted command line. */
export function cliCommandLine(args: readonly string[]): string {
  return [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/entry.ts'), ...args]
    .map((part) => `'${part}'`)
    .join(' ');
}

/** Alice and Bob registered on a relay, with one message from Bob waiting for Alice. */
export interface TerminalParties {
  readonly homes: { readonly alice: string; readonly bob: string };
  readonly ids: { readonly alice: string; readonly bob: string };
  readonly env: Record<string, string>;
}

/** Registers Alice and Bob through the CLI and has Bob send Alice "hello from bob". */
export async function aliceAndBob(daemon: DaemonProcess): Promise<TerminalParties> {
  const homes = { alice: await tempDir('metachat-home-'), bob: await tempDir('metachat-home-') };
  const env = { METACHAT_PASSWORD: TERMINAL_PASSWORD, METACHAT_SERVER: daemon.url };
  const alice = await runCli(['--home', homes.alice, 'register', 'alice', '--json'], { env });
  const bob = await runCli(['--home', homes.bob, 'register', 'bob', '--json'], { env });
  const ids = {
    alice: (JSON.parse(alice.stdout) as { id: string }).id,
    bob: (JSON.parse(bob.stdout) as { id: string }).id,
  };
  await runCli(['--home', homes.bob, 'send', ids.alice, 'hello from bob'], { env });
  return { homes, ids, env };
}
