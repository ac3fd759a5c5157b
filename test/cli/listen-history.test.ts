import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startListening } from '../hostile/listening-cli.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

// `listen` keeps what it verified in the local history: with the daemon stopped afterwards,
// `history` shows those messages from the device alone.

const PASSWORD = 'correct horse battery';
jest.setTimeout(120_000);

let daemon: DaemonProcess;
let dataDir: string;
let root: string;

function home(name: string): string {
  return join(root, name);
}

async function cli(name: string, args: string[]): Promise<CliResult> {
  return runCli([...args, '--home', home(name), '--server', daemon.url, '--password-stdin'], {
    input: `${PASSWORD}\n`,
  });
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-listen-history-');
  daemon = await spawnDaemon(dataDir);
  expect((await cli('alice', ['register', 'alice'])).code).toBe(0);
  expect((await cli('bob', ['register', 'bob'])).code).toBe(0);
  expect((await cli('bob', ['send', 'alice', 'before listen started'])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('listen and the local history', () => {
  it('what listen verified (caught up and pushed) is in the history once the daemon is gone', async () => {
    const listening = startListening(home('alice'), daemon.url, PASSWORD);
    try {
      await listening.waitForStdout(/before listen started/, 30_000);
      expect((await cli('bob', ['send', 'alice', 'pushed while listening'])).code).toBe(0);
      await listening.waitForStdout(/pushed while listening/, 30_000);
    } finally {
      expect(await listening.stop()).toBe(0);
    }
    await killAllDaemons();
    const offline = await cli('alice', ['history', 'bob', '--json']);
    expect(offline.code).toBe(0);
    expect(offline.stderr).toMatch(/offline/);
    const texts = offline.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { text?: string }).text)
      .filter((text) => text !== undefined);
    expect(texts).toEqual(['before listen started', 'pushed while listening']);
  });
});
