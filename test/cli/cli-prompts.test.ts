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
});
