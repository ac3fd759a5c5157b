import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOCKET = `metachat-test-${String(process.pid)}`;
const PASSWORD = 'correct horse battery';

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

function screen(target = 'tui'): string {
  return tmux('capture-pane', '-p', '-t', target);
}

async function waitForScreen(
  predicate: (text: string) => boolean,
  what: string,
  ms = 20_000,
  target = 'tui',
) {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = screen(target);
    if (predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  let stderr = '';
  try {
    stderr = readFileSync(stderrFile, 'utf8');
  } catch {
    stderr = '(none)';
  }
  throw new Error(`timed out waiting for ${what}; the screen was:\n${last}\nstderr:\n${stderr}`);
}

let daemon: DaemonProcess;
let stderrFile = '';
let homes: { alice: string; bob: string };
let ids: { alice: string; bob: string };

beforeAll(async () => {
  // A real terminal is part of what this test proves: without tmux it fails, it does not skip.
  execFileSync('tmux', ['-V']);
  daemon = await spawnDaemon(await tempDir());
  homes = { alice: await tempDir('metachat-home-'), bob: await tempDir('metachat-home-') };
  const env = { METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: daemon.url };
  const alice = await runCli(['--home', homes.alice, 'register', 'alice', '--json'], { env });
  const bob = await runCli(['--home', homes.bob, 'register', 'bob', '--json'], { env });
  ids = {
    alice: (JSON.parse(alice.stdout) as { id: string }).id,
    bob: (JSON.parse(bob.stdout) as { id: string }).id,
  };
  await runCli(['--home', homes.bob, 'send', ids.alice, 'hello from bob'], { env });
}, 60_000);

afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    // Already gone.
  }
  await killAllDaemons();
});

describe('metachat chat in a real terminal (tmux)', () => {
  it('shows the conversation, sends, receives live, redraws on resize and exits cleanly on Ctrl+C', async () => {
    const exitFile = join(homes.alice, 'tui-exit-code');
    stderrFile = join(homes.alice, 'tui-stderr');
    const command = [
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'src/cli/entry.ts'),
      '--home',
      homes.alice,
      'chat',
      ids.bob,
    ]
      .map((part) => `'${part}'`)
      .join(' ');
    tmux(
      'new-session',
      '-d',
      '-s',
      'tui',
      '-x',
      '100',
      '-y',
      '24',
      '-c',
      ROOT,
      '-e',
      `METACHAT_PASSWORD=${PASSWORD}`,
      '-e',
      `METACHAT_SERVER=${daemon.url}`,
      // CI runners export CI=true, which puts Ink in a mode that draws nothing until exit; the
      // screen must draw in a real terminal whatever the shell exports.
      '-e',
      'CI=true',
      `${command} 2> '${stderrFile}'; echo $? > '${exitFile}'; sleep 30`,
    );

    const first = await waitForScreen((s) => s.includes('hello from bob'), 'the message from bob');
    expect(first).toMatch(/bob .*connected/);
    expect(first).toContain('key pinned, not verified');

    tmux('send-keys', '-t', 'tui', '-l', 'hi bob, from the terminal');
    tmux('send-keys', '-t', 'tui', 'Enter');
    await waitForScreen((s) => /hi bob, from the terminal ✓/.test(s), 'my message acknowledged');

    const env = { METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: daemon.url };
    const history = await runCli(['--home', homes.bob, 'history', ids.alice, '--json'], { env });
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('hi bob, from the terminal');
    await runCli(['--home', homes.bob, 'send', ids.alice, 'a live reply'], { env });
    await waitForScreen((s) => s.includes('a live reply'), 'the live reply');

    tmux('resize-window', '-t', 'tui', '-x', '50', '-y', '20');
    const narrow = await waitForScreen(
      (s) => s.includes('a live reply') && s.split('\n').every((line) => line.length <= 50),
      'a redraw at 50 columns',
    );
    expect(narrow).toContain('hi bob, from the');

    tmux('send-keys', '-t', 'tui', 'Escape');
    await waitForScreen((s) => s.includes('MetaChat · alice'), 'the inbox');

    tmux('send-keys', '-t', 'tui', 'C-c');
    const deadline = Date.now() + 15_000;
    let code = '';
    while (Date.now() < deadline && code === '') {
      code = await readFile(exitFile, 'utf8').catch(() => '');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(code.trim()).toBe('0');
  }, 90_000);

  it('register asks for the username, then the password twice without showing it', async () => {
    const home = await tempDir('metachat-home-');
    stderrFile = join(home, 'stderr');
    const command = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/entry.ts')]
      .concat(['--home', home, '--server', daemon.url, 'register'])
      .map((part) => `'${part}'`)
      .join(' ');
    tmux('new-session', '-d', '-s', 'reg', '-x', '100', '-y', '24', '-c', ROOT);
    tmux('send-keys', '-t', 'reg', '-l', `${command} 2> '${stderrFile}'; echo "exit=$?"`);
    tmux('send-keys', '-t', 'reg', 'Enter');
    const typed = 'a secret typed here';
    await waitForScreen((s) => s.includes('Username'), 'the username prompt', 20_000, 'reg');
    tmux('send-keys', '-t', 'reg', '-l', 'carol-at-a-terminal');
    tmux('send-keys', '-t', 'reg', 'Enter');
    await waitForScreen((s) => /Password\s*$/m.test(s), 'the password prompt', 20_000, 'reg');
    tmux('send-keys', '-t', 'reg', '-l', typed);
    tmux('send-keys', '-t', 'reg', 'Enter');
    await waitForScreen((s) => s.includes('Password again'), 'the second prompt', 20_000, 'reg');
    tmux('send-keys', '-t', 'reg', '-l', typed);
    tmux('send-keys', '-t', 'reg', 'Enter');
    const done = await waitForScreen((s) => /^exit=\d+\s*$/m.test(s), 'the end', 30_000, 'reg');
    expect(done).toContain('Registered.');
    expect(done).toMatch(/^exit=0\s*$/m);
    expect(done).not.toContain(typed);
    expect(done).not.toContain('secret');
  }, 60_000);
});
