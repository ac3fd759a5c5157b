import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { saveOutbox } from '../../src/cli/outgoing/outbox.js';
import { generateKeyPair, sealPacket } from '../../src/core/index.js';
import { runCli } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

const PASSWORD = 'correct horse battery';
let daemon: DaemonProcess;

beforeAll(async () => {
  daemon = await spawnDaemon(await tempDir());
}, 30_000);

afterAll(async () => {
  await killAllDaemons();
});

describe('metachat settings', () => {
  it('share-username off: my first message no longer tells the peer my name', async () => {
    const env = { METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: daemon.url };
    const quiet = await tempDir('metachat-home-');
    const loud = await tempDir('metachat-home-');
    const reader = await tempDir('metachat-home-');
    const register = async (home: string, name: string) =>
      (
        JSON.parse(
          (await runCli(['--home', home, 'register', name, '--json'], { env })).stdout,
        ) as { id: string }
      ).id;
    const quietId = await register(quiet, 'quiet-one');
    const loudId = await register(loud, 'loud-one');
    const readerId = await register(reader, 'reader');

    const shown = await runCli(['--home', quiet, 'settings', '--json'], { env });
    expect(JSON.parse(shown.stdout)).toEqual({ 'share-username': true, bell: true });
    const off = await runCli(['--home', quiet, 'settings', 'share-username', 'off', '--json'], {
      env,
    });
    expect(JSON.parse(off.stdout)).toEqual({ 'share-username': false });

    expect((await runCli(['--home', quiet, 'send', readerId, 'from quiet'], { env })).code).toBe(0);
    expect((await runCli(['--home', loud, 'send', readerId, 'from loud'], { env })).code).toBe(0);
    // The inbox alone learns names: it decrypts each peer's first packet, the username exchange.
    const inbox = await runCli(['--home', reader, 'inbox', '--json'], { env });
    const names = Object.fromEntries(
      inbox.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { id: string; name: string })
        .map((entry) => [entry.id, entry.name]),
    );
    expect(names[loudId]).toBe('loud-one');
    expect(names[quietId]).not.toContain('quiet');
  }, 60_000);

  it('register --no-share-username and login --no-share-username start with the setting off', async () => {
    const env = { METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: daemon.url };
    const first = await tempDir('metachat-home-');
    const second = await tempDir('metachat-home-');
    const registered = await runCli(
      ['--home', first, 'register', 'private-one', '--no-share-username'],
      { env },
    );
    expect(registered.code).toBe(0);
    const setting = async (home: string) =>
      (
        JSON.parse((await runCli(['--home', home, 'settings', '--json'], { env })).stdout) as {
          'share-username': boolean;
        }
      )['share-username'];
    expect(await setting(first)).toBe(false);
    const loggedIn = await runCli(
      ['--home', second, 'login', 'private-one', '--no-share-username'],
      { env },
    );
    expect(loggedIn.code).toBe(0);
    expect(await setting(second)).toBe(false);
  }, 60_000);

  it('logout refuses while the chat screen has unsent messages, and --discard-unsent removes them too', async () => {
    const env = { METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: daemon.url };
    const home = await tempDir('metachat-home-');
    expect((await runCli(['--home', home, 'register', 'leaver'], { env })).code).toBe(0);
    const [me, peer] = [await generateKeyPair(), await generateKeyPair()];
    const packet = sealPacket({
      sender: { identifier: 'a'.repeat(64), keyPair: me },
      recipient: { identifier: 'b'.repeat(64), publicKey: peer.publicKey },
      body: { v: 1, type: 'text', text: 'queued' },
    });
    await saveOutbox(home, [{ peer: 'b'.repeat(64), packets: [packet] }]);
    const refused = await runCli(['--home', home, 'logout'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/1 message is not sent yet.*--discard-unsent/);
    expect((await readdir(home)).sort()).toEqual(['outbox.json', 'profile.json']);
    const done = await runCli(['--home', home, 'logout', '--discard-unsent', '--json'], { env });
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toEqual({ loggedOut: true, discarded: 1 });
    expect(await readdir(home)).toEqual([]);
  }, 60_000);

  it('refuses an unknown setting or value with a usage error', async () => {
    const env = { METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: daemon.url };
    const home = await tempDir('metachat-home-');
    await runCli(['--home', home, 'register', 'settler'], { env });
    const unknown = await runCli(['--home', home, 'settings', 'colour', 'on'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown setting');
    const bad = await runCli(['--home', home, 'settings', 'bell', 'maybe'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"on" or "off"');
  }, 60_000);
});
