import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOCKET = `metachat-prompts-${String(process.pid)}`;
const PASSWORD = 'correct horse battery';

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

async function waitForScreen(target: string, predicate: (text: string) => boolean, what: string) {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    last = tmux('capture-pane', '-p', '-t', target);
    if (predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`timed out waiting for ${what}; the screen was:\n${last}`);
}

let daemon: DaemonProcess;
let home: string;

/** Starts `metachat <args>` in its own tmux session (a real terminal); the shell prints its exit code. */
function start(session: string, args: string[]): void {
  const command = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/entry.ts')]
    .concat([...args, '--home', home, '--server', daemon.url])
    .map((part) => `'${part}'`)
    .join(' ');
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30', '-c', ROOT);
  tmux('send-keys', '-t', session, '-l', `${command}; echo "exit=$?"`);
  tmux('send-keys', '-t', session, 'Enter');
}

beforeAll(async () => {
  // A real terminal is part of what this test proves: without tmux it fails, it does not skip.
  execFileSync('tmux', ['-V']);
  daemon = await spawnDaemon(await tempDir());
  home = await tempDir('metachat-prompts-home-');
  const registered = await runCli(['--home', home, '--server', daemon.url, 'register', 'erin'], {
    env: { METACHAT_PASSWORD: PASSWORD },
  });
  expect(registered.code).toBe(0);
}, 60_000);

afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    // Already gone.
  }
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
    const command = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/entry.ts')]
      .concat(['register', 'erin', '--home', fresh, '--server', daemon.url])
      .map((part) => `'${part}'`)
      .join(' ');
    tmux('new-session', '-d', '-s', 'taken', '-x', '160', '-y', '30', '-c', ROOT);
    tmux('send-keys', '-t', 'taken', '-l', `${command}; echo "exit=$?"`);
    tmux('send-keys', '-t', 'taken', 'Enter');
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
