import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import {
  aliceAndBob,
  cliCommandLine,
  ROOT,
  TERMINAL_PASSWORD,
  TmuxTerminal,
} from '../support/tmux-terminal.js';

// The chat screen run from an interactive shell in a real terminal (tmux): what the shell and the
// environment do to it, NO_COLOR and job control (Ctrl+Z, `fg`).

let term: TmuxTerminal;
let daemon: DaemonProcess;
let homes: { alice: string; bob: string };
let ids: { alice: string; bob: string };

const tmux = (...args: string[]): string => term.tmux(...args);
const screen = (escapes = false): string => term.screen('shell', escapes);
const waitForScreen = (predicate: (text: string) => boolean, what: string) =>
  term.waitForScreen(predicate, what);
const run = (line: string): void => term.typeLine(line);

/** `metachat chat bob` for alice, as a shell command line (stderr kept in a file), with `prefix` before it. */
function chatCommand(prefix: string): string {
  // Nothing after it on the line: bash runs the rest of a list when its first command is stopped.
  return `${prefix} ${cliCommandLine(['--home', homes.alice, 'chat', ids.bob])} 2> '${term.stderrFile}'`;
}

/** The SGR parameters of a capture that choose a color (foreground or background), if any. */
function colorCodes(captured: string): string[] {
  const found: string[] = [];
  // eslint-disable-next-line no-control-regex -- reading the terminal's escape sequences is the point
  for (const match of captured.matchAll(/\u001b\[([0-9;:]*)m/g)) {
    const params = (match[1] ?? '').split(/[;:]/).map(Number);
    for (let i = 0; i < params.length; i++) {
      const p = params[i] ?? 0;
      if (p === 38 || p === 48) {
        found.push(match[0]);
        break;
      }
      if ((p >= 30 && p <= 37) || (p >= 40 && p <= 47) || (p >= 90 && p <= 107)) {
        found.push(match[0]);
        break;
      }
    }
  }
  return found;
}

/** Quits the chat screen with Ctrl+C and waits for the shell to report its exit code. */
async function quit(): Promise<void> {
  tmux('send-keys', '-t', 'shell', 'C-c');
  await waitForScreen(
    (s) => !s.includes('hello from bob') && s.trimEnd().split('\n').at(-1) === '$',
    'the shell prompt after the chat screen',
  );
  run('echo "exit=$?"');
  await waitForScreen((s) => s.includes('exit=0'), 'the chat screen to have exited 0');
  run('clear');
  await waitForScreen((s) => !s.includes('exit=0'), 'a cleared shell');
}

beforeAll(async () => {
  term = new TmuxTerminal(`metachat-shell-${String(process.pid)}`, 'shell');
  daemon = await spawnDaemon(await tempDir());
  ({ homes, ids } = await aliceAndBob(daemon));
  term.stderrFile = join(homes.alice, 'tui-stderr');
  tmux(
    'new-session',
    '-d',
    '-s',
    'shell',
    '-x',
    '80',
    '-y',
    '20',
    '-c',
    ROOT,
    '-e',
    `METACHAT_PASSWORD=${TERMINAL_PASSWORD}`,
    '-e',
    `METACHAT_SERVER=${daemon.url}`,
    'bash --norc --noprofile -i',
  );
  await waitForScreen((s) => s.trim().length > 0, 'the shell');
  run("PS1='$ '; clear");
  await waitForScreen((s) => s.trim() === '$', 'the shell prompt');
}, 60_000);

afterAll(async () => {
  term.close();
  await killAllDaemons();
});

describe('the chat screen run from a shell in a real terminal (tmux)', () => {
  it('draws in color, and without any color when NO_COLOR is set', async () => {
    // First without NO_COLOR (whatever the test's own environment says), so the check below can
    // tell a screen without colors from a terminal that shows none.
    run(chatCommand('env -u NO_COLOR -u FORCE_COLOR'));
    await waitForScreen((s) => s.includes('hello from bob') && s.includes('connected'), 'color');
    expect(colorCodes(screen(true)).length).toBeGreaterThan(0);
    await quit();

    run(chatCommand('env -u FORCE_COLOR NO_COLOR=1'));
    const plain = await waitForScreen(
      (s) => s.includes('hello from bob') && s.includes('connected'),
      'the screen with NO_COLOR',
    );
    expect(plain).toContain('key pinned, not verified');
    expect(colorCodes(screen(true))).toEqual([]);
    expect(readFileSync(term.stderrFile, 'utf8')).toBe('');
    await quit();
  }, 60_000);

  it('Ctrl+Z gives the shell back, and fg brings the screen back with the draft kept', async () => {
    run(chatCommand(''));
    await waitForScreen((s) => s.includes('hello from bob'), 'the chat screen');
    tmux('send-keys', '-t', 'shell', '-l', 'a draft to keep');
    await waitForScreen((s) => s.includes('> a draft to keep'), 'the draft');

    tmux('send-keys', '-t', 'shell', 'C-z');
    const stopped = await waitForScreen((s) => /Stopped/.test(s), 'the job stopped');
    // The shell has its screen back: the chat screen's rows are gone.
    expect(stopped).not.toContain('a draft to keep');

    run('fg');
    const back = await waitForScreen(
      (s) => s.includes('> a draft to keep') && s.includes('hello from bob'),
      'the screen back with the draft',
    );
    expect(back).toMatch(/bob .*connected/);
    // Still a working screen in raw mode: typing goes on where it stopped, Enter sends.
    tmux('send-keys', '-t', 'shell', '-l', ', typed after fg');
    tmux('send-keys', '-t', 'shell', 'Enter');
    await waitForScreen((s) => /a draft to keep, typed after fg ✓/.test(s), 'sent after fg');
    expect(readFileSync(term.stderrFile, 'utf8')).toBe('');
    await quit();
  }, 60_000);
});
