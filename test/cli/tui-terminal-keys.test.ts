import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import {
  aliceAndBob,
  cliCommandLine,
  ROOT,
  TERMINAL_PASSWORD,
  TmuxTerminal,
} from '../support/tmux-terminal.js';

const ROWS = 12;
const COLUMNS = 60;

let term: TmuxTerminal;
let daemon: DaemonProcess;
let homes: { alice: string; bob: string };
let ids: { alice: string; bob: string };
let env: Record<string, string>;

const tmux = (...args: string[]): string => term.tmux(...args);
const screen = (): string => term.screen();
const waitForScreen = (predicate: (text: string) => boolean, what: string, ms?: number) =>
  term.waitForScreen(predicate, what, ms === undefined ? {} : { ms });

/** The chat screen never crashed: no stack trace on its stderr, and it still draws its status line. */
function expectAlive(text: string): void {
  expect(readFileSync(term.stderrFile, 'utf8')).toBe('');
  expect(text).toMatch(/bob .*key pinned/);
}

async function settle(ms = 400): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

beforeAll(async () => {
  term = new TmuxTerminal(`metachat-keys-${String(process.pid)}`, 'keys');
  daemon = await spawnDaemon(await tempDir());
  ({ homes, ids, env } = await aliceAndBob(daemon));
  term.stderrFile = join(homes.alice, 'tui-stderr');
  const command = cliCommandLine(['--home', homes.alice, 'chat', ids.bob]);
  tmux(
    'new-session',
    '-d',
    '-s',
    'keys',
    '-x',
    String(COLUMNS),
    '-y',
    String(ROWS),
    '-c',
    ROOT,
    '-e',
    `METACHAT_PASSWORD=${TERMINAL_PASSWORD}`,
    '-e',
    `METACHAT_SERVER=${daemon.url}`,
    `${command} 2> '${term.stderrFile}'; sleep 60`,
  );
  await waitForScreen((s) => s.includes('hello from bob'), 'the chat screen');
}, 60_000);

afterAll(async () => {
  term.close();
  await killAllDaemons();
});

describe('the chat screen in a real terminal, given what crashed it before (issue 11)', () => {
  it('a paste holding Unicode isolates (U+2068/U+2069) is cleaned, said, and sends', async () => {
    tmux('set-buffer', '-b', 'iso', 'to \u2068Bob\u2069, pasted');
    // -p pastes bracketed, as a terminal does for an application that asked for it.
    tmux('paste-buffer', '-p', '-b', 'iso', '-t', 'keys');
    const pasted = await waitForScreen(
      (s) => s.includes('2 control characters removed'),
      'the word about the removed isolates',
    );
    expect(pasted).toContain('> to Bob, pasted');
    tmux('send-keys', '-t', 'keys', 'Enter');
    expectAlive(await waitForScreen((s) => /to Bob, pasted ✓/.test(s), 'the message sent'));
  }, 30_000);

  it('a Backspace read together with the text before it deletes it (send-keys typo BSpace)', async () => {
    tmux('send-keys', '-t', 'keys', 'typo', 'BSpace');
    const typed = await waitForScreen((s) => s.includes('> typ'), 'the draft');
    expect(typed).not.toContain('> typo');
    tmux('send-keys', '-t', 'keys', 'Enter');
    expectAlive(await waitForScreen((s) => /typ ✓/.test(s), 'the message sent'));
  }, 30_000);

  it('two control keys in one read are two keys (C-e C-u), and nothing raw enters the draft', async () => {
    tmux('send-keys', '-t', 'keys', '-l', 'to be cut');
    await waitForScreen((s) => s.includes('> to be cut'), 'the draft');
    tmux('send-keys', '-t', 'keys', 'C-a', 'C-e', 'C-u');
    const cut = await waitForScreen((s) => s.includes('write a message'), 'the emptied draft');
    expect(cut).not.toContain('^E');
    expectAlive(cut);
  }, 30_000);

  it('2,500 emoji (20 KB) stop at the 16 KiB limit with a word, and what fits is sent', async () => {
    // Written as one burst of keys (not a bracketed paste), as a terminal types what it is sent.
    const file = join(homes.alice, 'emoji.txt');
    await writeFile(file, '👍🏽'.repeat(2_500));
    tmux('load-buffer', '-b', 'emoji', file);
    tmux('paste-buffer', '-b', 'emoji', '-t', 'keys');
    const full = await waitForScreen(
      (s) => s.includes('16.0 KiB of 16.0 KiB used'),
      'the budget at its limit',
      30_000,
    );
    expectAlive(full);
    tmux('send-keys', '-t', 'keys', 'Enter');
    await waitForScreen((s) => s.includes('write a message') && s.includes('✓'), 'sent', 30_000);
    const history = await runCli(['--home', homes.bob, 'history', ids.alice, '--json'], { env });
    expect(history.stdout).toContain('👍🏽'.repeat(2_048));
    expectAlive(screen());
  }, 60_000);

  it('a message taller than the screen scrolls by line, fits the terminal, and Ctrl+L redraws', async () => {
    const words = Array.from({ length: 90 }, (_, i) => `w${String(i).padStart(3, '0')}`);
    const long = words.join(' ').padEnd(630, '.');
    expect(long.length).toBe(630);
    // 25 lines above it, so three pages up stay inside the conversation.
    const filler = Array.from({ length: 25 }, (_, i) => `filler ${String(i)}`).join('\n');
    await runCli(['--home', homes.bob, 'send', ids.alice, filler], { env });
    await runCli(['--home', homes.bob, 'send', ids.alice, long], { env });
    const end = await waitForScreen((s) => s.includes('w089'), 'the end of the long message');
    expect(end.split('\n').length).toBeLessThanOrEqual(ROWS);
    expect(end).not.toContain('w000');
    for (const line of end.split('\n')) expect(line.length).toBeLessThanOrEqual(COLUMNS);

    // Three PageUps read together scroll three pages (of the list's 8 rows, one kept: 7 lines).
    tmux('send-keys', '-t', 'keys', 'PageUp', 'PageUp', 'PageUp');
    await waitForScreen((s) => s.includes('↓ 21 lines below'), 'three pages up');
    tmux('send-keys', '-t', 'keys', 'PageDown', 'PageDown');
    const up = await waitForScreen((s) => s.includes('↓ 7 lines below'), 'one page up');
    // The message's first line is in view, its last is not: it is read line by line.
    expect(up).toContain('w000');
    expect(up).not.toContain('w089');
    tmux('send-keys', '-t', 'keys', 'S-Down');
    const scrolled = await waitForScreen((s) => s.includes('↓ 6 lines below'), 'one line down');
    expect(scrolled.split('\n').length).toBeLessThanOrEqual(ROWS);
    // What is on screen is what Ctrl+L draws from scratch: no stale text at any line's end.
    tmux('send-keys', '-t', 'keys', 'C-l');
    await settle(800);
    expect(screen()).toBe(scrolled);
    tmux('send-keys', '-t', 'keys', 'PageDown', 'PageDown', 'PageDown', 'PageDown');
    expectAlive(await waitForScreen((s) => s.includes('w089'), 'back at the newest line'));
  }, 40_000);
});
