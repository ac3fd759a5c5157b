import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { runCli } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import {
  cliCommandLine,
  ROOT,
  TERMINAL_PASSWORD as PASSWORD,
  TmuxTerminal,
} from '../support/tmux-terminal.js';

let term: TmuxTerminal;
let daemon: DaemonProcess;
let home: string;

const tmux = (...args: string[]): string => term.tmux(...args);
const waitForScreen = (target: string, predicate: (text: string) => boolean, what: string) =>
  term.waitForScreen(predicate, what, { target, ms: 30_000 });

/** Starts `metachat <args>` in its own tmux session (a real terminal); the shell prints its exit code. */
function start(session: string, args: string[]): void {
  const command = cliCommandLine([...args, '--home', home, '--server', daemon.url]);
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30', '-c', ROOT);
  term.typeLine(`${command}; echo "exit=$?"`, session);
}

beforeAll(async () => {
  term = new TmuxTerminal(`metachat-prompts-${String(process.pid)}`, 'chat');
  daemon = await spawnDaemon(await tempDir());
  home = await tempDir('metachat-prompts-home-');
  const registered = await runCli(['--home', home, '--server', daemon.url, 'register', 'erin'], {
    env: { METACHAT_PASSWORD: PASSWORD },
  });
  expect(registered.code).toBe(0);
}, 60_000);

afterAll(async () => {
  term.close();
  await killAllDaemons();
  await rm(home, { recursive: true, force: true });
});

describe('prompts on a real terminal (tmux)', () => {
  it('chat says how it took a peer before the password, asks again after a wrong one, and Ctrl+C exits 130 quietly', async () => {
    start('chat', ['chat', 'nobody']);
    const first = await waitForScreen('chat', (s) => /Password/.test(s), 'the password prompt');
    expect(first).toContain('"nobody" is not an alias or a known name here; taken as a username');
    expect(first.indexOf('taken as a username')).toBeLessThan(first.indexOf('Password'));
    tmux('send-keys', '-t', 'chat', '-l', 'not the password');
    tmux('send-keys', '-t', 'chat', 'Enter');
    await waitForScreen('chat', (s) => s.includes('Wrong password; try again.'), 'a second try');
    await waitForScreen(
      'chat',
      (s) => s.split('Wrong password; try again.')[1]?.includes('Password') === true,
      'the prompt again',
    );
    tmux('send-keys', '-t', 'chat', 'C-c');
    const done = await waitForScreen('chat', (s) => /^exit=\d+\s*$/m.test(s), 'the end');
    expect(done).toMatch(/^exit=130\s*$/m);
    expect(done).not.toMatch(/Error|at .*\.js:\d+|ExitPrompt/);
  }, 90_000);

  it('a peer that cannot be named is refused before any password is asked', async () => {
    start('bad', ['chat', 'Not A Name!']);
    const done = await waitForScreen('bad', (s) => /^exit=\d+\s*$/m.test(s), 'the end');
    expect(done).toMatch(/^exit=2\s*$/m);
    expect(done).toContain('is not a 64-hex identifier');
    expect(done).not.toContain('Password');
  }, 60_000);
  it('register at a terminal asks another username when the one given is taken, without asking the password again', async () => {
    const fresh = await tempDir('metachat-prompts-taken-');
    const command = cliCommandLine(['register', 'erin', '--home', fresh, '--server', daemon.url]);
    tmux('new-session', '-d', '-s', 'taken', '-x', '160', '-y', '30', '-c', ROOT);
    term.typeLine(`${command}; echo "exit=$?"`, 'taken');
    for (const prompt of ['Password', 'Password again']) {
      await waitForScreen(
        'taken',
        (s) => new RegExp(prompt, 'i').test(s.split('\n').filter(Boolean).at(-1) ?? ''),
        prompt,
      );
      tmux('send-keys', '-t', 'taken', '-l', PASSWORD);
      tmux('send-keys', '-t', 'taken', 'Enter');
    }
    const asked = await waitForScreen('taken', (s) => /\? Username/.test(s), 'another username');
    expect(asked).toContain('The username "erin" is already registered on');
    expect(asked).toContain('metachat login erin');
    tmux('send-keys', '-t', 'taken', '-l', 'erin-two');
    tmux('send-keys', '-t', 'taken', 'Enter');
    const done = await waitForScreen('taken', (s) => /^exit=\d+\s*$/m.test(s), 'the end');
    expect(done).toMatch(/^exit=0\s*$/m);
    expect(done).toContain('Registered.');
    // The password was asked for twice in all: once and its repetition, never after the new name.
    expect(done.slice(done.lastIndexOf('Username'))).not.toMatch(/^[?✔] Password/m);
    const login = await runCli(
      [
        '--home',
        await tempDir('metachat-prompts-login-'),
        '--server',
        daemon.url,
        'login',
        'erin-two',
      ],
      {
        env: { METACHAT_PASSWORD: PASSWORD },
      },
    );
    expect(login.code).toBe(0);
  }, 60_000);
});
