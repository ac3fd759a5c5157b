import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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

let term: TmuxTerminal;
let daemon: DaemonProcess;
let homes: { alice: string; bob: string };
let ids: { alice: string; bob: string };

const tmux = (...args: string[]): string => term.tmux(...args);

/** Starts `who`'s chat screen with the other one in a tmux session of that name. */
function openChat(who: 'alice' | 'bob'): void {
  const other = who === 'alice' ? ids.bob : ids.alice;
  const command = cliCommandLine(['--home', homes[who], 'chat', other]);
  tmux(
    'new-session',
    '-d',
    '-s',
    who,
    '-x',
    '90',
    '-y',
    '20',
    '-c',
    ROOT,
    '-e',
    `METACHAT_PASSWORD=${TERMINAL_PASSWORD}`,
    '-e',
    `METACHAT_SERVER=${daemon.url}`,
    `${command} 2> '${join(homes[who], 'tui-stderr')}'; sleep 30`,
  );
}

const on = (target: 'alice' | 'bob', predicate: (s: string) => boolean, what: string) =>
  term.waitForScreen(predicate, what, { target });

beforeAll(async () => {
  term = new TmuxTerminal(`metachat-edits-${String(process.pid)}`, 'alice');
  daemon = await spawnDaemon(await tempDir());
  ({ homes, ids } = await aliceAndBob(daemon));
  openChat('alice');
  openChat('bob');
  await on('alice', (s) => s.includes('hello from bob') && s.includes('connected'), 'alice');
  await on('bob', (s) => s.includes('hello from bob') && s.includes('connected'), 'bob');
}, 60_000);

afterAll(async () => {
  term.close();
  await killAllDaemons();
});

describe('edits and replies in the chat screen, on both sides (tmux)', () => {
  it('↑ on an empty draft edits my last message; the peer sees the new text and (edited)', async () => {
    tmux('send-keys', '-t', 'alice', 'the first drfat 🦊', 'Enter');
    await on('bob', (s) => s.includes('the first drfat 🦊'), 'the message at bob');
    // One send-keys: ↑ takes the message into the draft, the typo is fixed, Enter sends the edit.
    tmux('send-keys', '-t', 'alice', 'Up', 'C-u', 'the first draft 🦊', 'Enter');
    const bob = await on(
      'bob',
      (s) => s.includes('the first draft 🦊 (edited)'),
      'the edit at bob',
    );
    expect(bob).not.toContain('drfat');
    const alice = await on('alice', (s) => s.includes('the first draft 🦊 (edited)'), 'at alice');
    // The edit is not a line of its own on either side.
    expect(alice.split('the first draft').length).toBe(2);
    expect(bob.split('the first draft').length).toBe(2);
  }, 60_000);

  it('Esc cancels an edit and gives the draft back', async () => {
    tmux('send-keys', '-t', 'alice', 'Up', 'C-u', 'never sent');
    await on(
      'alice',
      (s) => s.includes('editing: the first draft') && s.includes('> never sent'),
      'the edit',
    );
    tmux('send-keys', '-t', 'alice', 'Escape');
    const screen = await on('alice', (s) => s.includes('write a message'), 'the empty draft');
    expect(screen).not.toContain('never sent');
    expect(screen).not.toContain('editing:');
  }, 30_000);

  it('Tab then r replies to the chosen message; the quote shows above the draft and in both lists', async () => {
    // Bob chooses the newest message (alice's) and replies, an emoji and a RTL word in the text.
    tmux('send-keys', '-t', 'bob', 'Tab');
    await on('bob', (s) => s.includes('r or Enter reply'), 'the selection hints');
    tmux('send-keys', '-t', 'bob', 'r');
    await on('bob', (s) => s.includes('↪ replying to alice: the first draft 🦊'), 'the banner');
    tmux('send-keys', '-t', 'bob', 'got it 👍 שלום', 'Enter');
    const quoted = (s: string) =>
      /↪ alice: the first draft 🦊/.test(s) && s.includes('got it 👍 שלום');
    await on('bob', quoted, 'the reply with its quote at bob');
    await on('alice', quoted, 'the reply with its quote at alice');
  }, 60_000);
});
