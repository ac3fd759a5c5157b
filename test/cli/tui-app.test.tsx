import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { render as inkRender } from 'ink';
import { render } from 'ink-testing-library';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOutbox } from '../../src/cli/outgoing/outbox.js';
import { loadProfile, removeProfile, saveProfile } from '../../src/cli/profile/profile.js';
import { App } from '../../src/cli/tui/App.js';
import type { ChatController } from '../../src/cli/tui/chat-controller.js';
import { sealPacket } from '../../src/core/index.js';
import {
  collectPackets,
  newUser,
  sealText,
  startTestRelay,
  tempDir,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { profileFor, startController, until } from '../support/tui-harness.js';

const BEL = '\u0007';
const KEYS = {
  enter: '\r',
  up: '\u001b[A',
  down: '\u001b[B',
  escape: '\u001b',
  ctrlB: '\u0002',
  ctrlC: '\u0003',
};
const QUITTING = 'Sending queued messages and saving…';

let relay: TestRelay;
const running: ChatController[] = [];
const screens: { unmount: () => void }[] = [];
const users: TestUser[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterEach(async () => {
  for (const screen of screens.splice(0)) screen.unmount();
  for (const controller of running.splice(0)) await controller.shutdown();
});

afterAll(async () => {
  for (const user of users.splice(0)) user.client.close();
  await relay.stop();
});

async function user(name: string): Promise<TestUser> {
  const created = await newUser(relay.url, name);
  users.push(created);
  return created;
}

/** Sends a hello (so the inbox learns the sender's name) and a text, as the CLI would. */
async function greet(from: TestUser, to: TestUser, text: string): Promise<void> {
  await from.client.send(
    sealPacket({
      sender: { identifier: from.identifier, keyPair: from.keyPair },
      recipient: { identifier: to.identifier, publicKey: to.keyPair.publicKey },
      body: { v: 1, type: 'hello', username: from.username },
    }),
  );
  await from.client.send(sealText(from, to, text));
}

async function device(account: TestUser, options: { url?: string; pin?: TestUser } = {}) {
  const url = options.url ?? relay.url;
  const home = await tempDir('metachat-app-');
  const profile = profileFor(account, url);
  if (options.pin) {
    profile.peers[options.pin.identifier] = { publicKey: options.pin.keyPair.publicKey.encoded };
  }
  const controller = await startController(account, profile, home, url);
  running.push(controller);
  return { controller, profile, home };
}

/** Mounts the App as run-tui.tsx does, on ink-testing-library's fake terminal. */
function mount(controller: ChatController, initialPeer: string | null = null) {
  if (initialPeer !== null) controller.openChat(initialPeer);
  const element = <App controller={controller} initialPeer={initialPeer} />;
  const screen = render(element);
  screens.push(screen);
  // Ink keeps one instance per stdout, so this hands back that instance's exit promise.
  const exited = inkRender(element, {
    stdout: screen.stdout as unknown as NodeJS.WriteStream,
  }).waitUntilExit();
  const bells = () => screen.frames.filter((frame) => frame.includes(BEL)).length;
  /** The last frame Ink drew (the bell is a raw write of its own, not a frame). */
  const text = () => screen.frames.filter((frame) => frame !== BEL).at(-1) ?? '';
  const waitFor = async (wanted: string, ms = 5_000) => {
    const deadline = Date.now() + ms;
    while (!text().includes(wanted)) {
      if (Date.now() > deadline) throw new Error(`"${wanted}" never shown; last:\n${text()}`);
      await pause(20);
    }
  };
  const ringsUpTo = async (count: number, ms = 5_000) => {
    const deadline = Date.now() + ms;
    while (bells() < count && Date.now() < deadline) await pause(20);
    return bells();
  };
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      screen.stdin.write(key);
      await pause(30);
    }
  };
  return { ...screen, exited, bells, ringsUpTo, text, waitFor, press };
}

async function pause(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('the App over a real relay', () => {
  it('rings the bell for each new message, and not once Ctrl+B or b turned it off', async () => {
    const alice = await user('alice-bell');
    const bob = await user('bob-bell');
    await greet(bob, alice, 'from history');
    const { controller, profile } = await device(alice);
    const app = mount(controller);
    await app.waitFor('bob-bell');
    await app.press(KEYS.enter);
    // The page is loaded after the first sync, so what bob sends from now on arrives live.
    await app.waitFor('from history');
    expect(app.bells()).toBe(0);

    await bob.client.send(sealText(bob, alice, 'ding one'));
    await app.waitFor('ding one');
    expect(await app.ringsUpTo(1)).toBe(1);

    await app.press(KEYS.ctrlB);
    await app.waitFor('Bell off.');
    await bob.client.send(sealText(bob, alice, 'quiet two'));
    await app.waitFor('quiet two');

    await app.press(KEYS.escape);
    await app.waitFor('bell off');
    await app.press('b');
    await app.waitFor('bell on');
    // A burst rings once (1.5 s), so the next ring comes after the first one's burst is over.
    await pause(1_600);
    await bob.client.send(sealText(bob, alice, 'ding three'));
    await app.waitFor('(1 new)');
    expect(await app.ringsUpTo(2)).toBe(2);

    await app.press('b');
    await app.waitFor('bell off');
    await bob.client.send(sealText(bob, alice, 'quiet four'));
    await app.waitFor('(2 new)');
    await pause(100);
    expect(app.bells()).toBe(2);
    expect(profile.bell).toBe(false);
  });

  it('rings once for a burst of messages, and again for one after the burst', async () => {
    const alice = await user('alice-burst');
    const bob = await user('bob-burst');
    await greet(bob, alice, 'before the burst');
    const { controller } = await device(alice);
    const app = mount(controller);
    await app.waitFor('bob-burst');
    await app.press(KEYS.enter);
    await app.waitFor('before the burst');
    expect(app.bells()).toBe(0);

    // Five messages sent at once arrive within the 1.5 s burst window: one ring, not five.
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) => bob.client.send(sealText(bob, alice, `burst ${String(n)}`))),
    );
    for (const n of [1, 2, 3, 4, 5]) await app.waitFor(`burst ${String(n)}`);
    await pause(200);
    expect(app.bells()).toBe(1);

    await pause(1_600);
    await bob.client.send(sealText(bob, alice, 'after the burst'));
    await app.waitFor('after the burst');
    expect(await app.ringsUpTo(2)).toBe(2);
  });

  it('stays quiet for new messages when the profile has the bell off', async () => {
    const alice = await user('alice-quiet');
    const bob = await user('bob-quiet');
    await greet(bob, alice, 'hello quiet');
    const home = await tempDir('metachat-app-');
    const profile = { ...profileFor(alice, relay.url), bell: false };
    const controller = await startController(alice, profile, home, relay.url);
    running.push(controller);
    const app = mount(controller);
    await app.waitFor('bob-quiet');
    expect(app.text()).toContain('bell off');
    await app.press(KEYS.enter);
    await app.waitFor('hello quiet');
    await bob.client.send(sealText(bob, alice, 'still quiet'));
    await app.waitFor('still quiet');
    await pause(100);
    expect(app.bells()).toBe(0);
  });

  it('opens the selected conversation with ↓ and Enter, and Esc goes back to the inbox', async () => {
    const alice = await user('alice-nav');
    const bob = await user('bob-nav');
    const carol = await user('carol-nav');
    await greet(bob, alice, 'older, from bob');
    await pause(5);
    await greet(carol, alice, 'newer, from carol');
    const { controller } = await device(alice);
    const app = mount(controller);
    await app.waitFor('bob-nav');
    await app.waitFor('carol-nav');
    const inbox = app.lastFrame() ?? '';
    expect(inbox.indexOf('carol-nav')).toBeLessThan(inbox.indexOf('bob-nav'));
    expect(inbox).toMatch(/› .*carol-nav/);

    await app.press(KEYS.down);
    expect(app.lastFrame()).toMatch(/› .*bob-nav/);
    await app.press(KEYS.enter);
    await app.waitFor('older, from bob');
    const chat = app.lastFrame() ?? '';
    expect(chat).toContain('write a message');
    expect(chat).not.toContain('newer, from carol');
    expect(chat).not.toContain('n new chat');

    await app.press(KEYS.escape);
    await app.waitFor('n new chat');
    const back = app.lastFrame() ?? '';
    expect(back).not.toContain('older, from bob');
    expect(back).toMatch(/carol-nav\s+\(1 new\)/);
    expect(back).not.toMatch(/bob-nav\s+\(1 new\)/);
  });

  it('Ctrl+C right after Enter waits for the message to be sent, saves, and exits', async () => {
    const alice = await user('alice-quit');
    const bob = await user('bob-quit');
    const pushed = collectPackets(bob.client);
    const { controller, home } = await device(alice, { pin: bob });
    await until(controller, (s) => s.connection.status === 'connected', 'connected');
    const app = mount(controller, bob.identifier);
    await app.waitFor('beginning of the conversation');

    await app.press('last words');
    app.stdin.write(KEYS.enter);
    app.stdin.write(KEYS.ctrlC);
    await expect(app.exited).resolves.toEqual({ unsent: 0, dropped: 0 });
    expect(app.frames.some((frame) => frame.includes(QUITTING))).toBe(true);
    // The hello rides first, then the text.
    await pushed.waitFor(2);
    expect(pushed.packets.map((p) => p.packet.from)).toEqual([alice.identifier, alice.identifier]);
    await expect(stat(join(home, 'outbox.json'))).rejects.toThrow();
    const saved = await loadProfile(home);
    expect(saved.seenUpTo).toBeGreaterThan(0);
    expect(saved.peers[bob.identifier]?.helloSent).toBe(true);
  });

  it('Ctrl+C with the relay down keeps the message queued on disk and exits counting it', async () => {
    const alice = await user('alice-down');
    const bob = await user('bob-down');
    const gone = await startTestRelay();
    await gone.stop();
    const { controller, home } = await device(alice, { url: gone.url, pin: bob });
    const app = mount(controller, bob.identifier);
    await app.waitFor('reconnecting');

    await app.press('for later', KEYS.enter);
    await app.waitFor('for later');
    await app.press(KEYS.ctrlB, KEYS.ctrlC);
    await expect(app.exited).resolves.toEqual({ unsent: 1, dropped: 0 });
    expect(app.frames.some((frame) => frame.includes(QUITTING))).toBe(true);
    const queued = await loadOutbox(home);
    expect(queued.map((entry) => entry.peer)).toEqual([bob.identifier]);
    expect(await readFile(join(home, 'outbox.json'), 'utf8')).not.toContain('for later');
    expect((await loadProfile(home)).bell).toBe(false);
  });

  it('keeps a draft and its ↑ history per conversation, and Esc comes back to the one I left', async () => {
    const alice = await user('alice-drafts');
    const bob = await user('bob-drafts');
    const carol = await user('carol-drafts');
    await greet(bob, alice, 'from bob');
    await pause(5);
    await greet(carol, alice, 'from carol');
    const { controller } = await device(alice);
    const app = mount(controller);
    await app.waitFor('bob-drafts');
    await app.waitFor('carol-drafts');
    await app.press(KEYS.down, KEYS.enter);
    await app.waitFor('from bob');
    await app.press('sent to bob', KEYS.enter);
    await app.waitFor('sent to bob ');
    await app.press('half a thought');
    await app.press(KEYS.escape);
    await app.waitFor('n new chat');
    await app.press(KEYS.down, KEYS.enter);
    await app.waitFor('from carol');
    expect(app.text()).toContain('write a message');
    await app.press(KEYS.up);
    // ↑ in carol's conversation recalls nothing sent to bob.
    expect(app.text()).not.toContain('sent to bob');
    await app.press(KEYS.escape);
    await app.waitFor('n new chat');
    // Back on carol, the conversation just left, though bob's is now first in the list.
    expect(app.text()).toMatch(/› .*carol-drafts/);
    expect(app.text().indexOf('bob-drafts')).toBeLessThan(app.text().indexOf('carol-drafts'));
    await app.press(KEYS.up, KEYS.enter);
    await app.waitFor('> half a thought');
    await app.press('\u0015', KEYS.up);
    await app.waitFor('> sent to bob');
  });

  it('takes an alias and the bell set in another terminal within a second', async () => {
    const alice = await user('alice-elsewhere');
    const bob = await user('bob-elsewhere');
    await greet(bob, alice, 'hello elsewhere');
    const { controller, profile, home } = await device(alice);
    await saveProfile(home, profile);
    const app = mount(controller);
    await app.waitFor('bob-elsewhere');
    await app.waitFor('bell on');
    // Another process: its own copy of the profile, saved through the same merge.
    const other = await loadProfile(home);
    other.peers[bob.identifier] = { ...(other.peers[bob.identifier] ?? {}), alias: 'Bobby' };
    other.bell = false;
    await saveProfile(home, other);
    await app.waitFor('Bobby', 3_000);
    await app.waitFor('bell off', 3_000);
    expect(profile.peers[bob.identifier]?.alias).toBe('Bobby');
  });

  it('closes, saying why, when this device is logged out in another terminal, and writes nothing back', async () => {
    const alice = await user('alice-logout');
    const bob = await user('bob-logout');
    const gone = await startTestRelay();
    await gone.stop();
    // Offline, so the message stays queued: the logout must not bring outbox.json back.
    const { controller, profile, home } = await device(alice, { url: gone.url, pin: bob });
    await saveProfile(home, profile);
    const app = mount(controller, bob.identifier);
    await app.waitFor('write a message');
    await app.press('queued before the logout', KEYS.enter);
    await app.waitFor('⧗ sending');
    await pause(400);
    expect(await removeProfile(home)).toBe(true);
    await rm(join(home, 'outbox.json'), { force: true });
    await expect(app.exited).resolves.toEqual({
      unsent: 0,
      dropped: 0,
      ended: 'This device was logged out in another terminal: the chat screen closed.',
    });
    await pause(300);
    await expect(stat(join(home, 'profile.json'))).rejects.toThrow();
    await expect(stat(join(home, 'outbox.json'))).rejects.toThrow();
  });
});
