import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareRegistration } from '../../src/cli/relay/account.js';
import type { ChatController } from '../../src/cli/tui/chat-controller.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { prepareKeyRotation } from '../../src/cli/relay/key-rotation-change.js';
import type { ChatSnapshot } from '../../src/cli/tui/chat-state.js';
import { generateKeyPair, openPacket, sealPacket } from '../../src/core/index.js';
import {
  collectPackets,
  newUser,
  sealText,
  secondDevice,
  startTestRelay,
  tempDir,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { loadProfile, saveProfile } from '../../src/cli/profile/profile.js';
import { runCli } from '../support/cli-process.js';
import { messagesWith, profileFor, startController, until } from '../support/tui-harness.js';
import { packetsOf } from '../support/records.js';

/** Polls `check` until it holds, or fails after `ms`. */
async function poll(
  check: () => Promise<boolean> | boolean,
  what: string,
  ms = 8_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let relay: TestRelay;
let alice: TestUser;
let bob: TestUser;
const running: ChatController[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
  alice = await newUser(relay.url, 'alice');
  bob = await newUser(relay.url, 'bob');
});

afterEach(async () => {
  for (const controller of running.splice(0)) await controller.shutdown();
});

afterAll(async () => {
  alice.client.close();
  bob.client.close();
  await relay.stop();
});

async function aliceDevice(url = relay.url, home?: string) {
  const dir = home ?? (await tempDir('metachat-tui-'));
  const profile = profileFor(alice, url);
  const controller = await startController(alice, profile, dir, url);
  running.push(controller);
  await until(controller, (s) => s.connection.status === 'connected', 'connected');
  return { controller, profile, home: dir };
}

function helloFrom(user: TestUser, to: TestUser) {
  return sealPacket({
    sender: { identifier: user.identifier, keyPair: user.keyPair },
    recipient: { identifier: to.identifier, publicKey: to.keyPair.publicKey },
    body: { v: 1, type: 'hello', username: user.username },
  });
}

describe('the TUI controller against a real relay', () => {
  it('takes my message from sending to sent to delivered, with my username sent once first', async () => {
    // Receipts go only to two-way contacts (docs/threat-model.md): bob has written to alice before.
    await bob.client.send(sealText(bob, alice, 'we have met'));
    const { controller } = await aliceDevice();
    const pushed = collectPackets(bob.client);
    const before = pushed.packets.length;
    controller.openChat(bob.identifier);
    expect(controller.send(bob.identifier, 'hello bob')).toBe(true);
    await until(
      controller,
      (s) => messagesWith(s, bob.identifier).some((m) => m.text === 'hello bob'),
      'the message on screen',
    );
    const sent = await until(
      controller,
      (s) =>
        messagesWith(s, bob.identifier).some((m) => m.text === 'hello bob' && m.status === 'sent'),
      'sent',
    );
    const mine = messagesWith(sent, bob.identifier).find((m) => m.text === 'hello bob');
    expect(mine?.seq).toBeGreaterThan(0);
    const received = await pushed.waitFor(before + 2);
    const [hello, text] = received.slice(before);
    expect(text?.packet.id).toBe(mine?.id);
    expect(hello?.packet.id).not.toBe(mine?.id);
    await bob.client.receipt(text?.seq ?? 0);
    await until(
      controller,
      (s) =>
        messagesWith(s, bob.identifier).some((m) => m.id === mine?.id && m.status === 'delivered'),
      'delivered',
    );
    controller.send(bob.identifier, 'second');
    await pushed.waitFor(before + 3);
    expect(pushed.packets.length).toBe(before + 3);
  });

  it('verifies live messages: the name proven by hello, unread until opened, the bell counter', async () => {
    const { controller, profile } = await aliceDevice();
    await bob.client.send(helloFrom(bob, alice));
    await bob.client.send(sealText(bob, alice, 'are you there?'));
    const snap = await until(
      controller,
      (s) =>
        s.arrivals > 0 &&
        s.conversations.some((c) => c.id === bob.identifier && c.unread > 0 && c.name === 'bob'),
      'an arrival, and an unread conversation named bob',
    );
    expect(snap.arrivals).toBeGreaterThan(0);
    controller.openChat(bob.identifier);
    const opened = await until(
      controller,
      (s) => messagesWith(s, bob.identifier).some((m) => m.text === 'are you there?'),
      'the message in the chat',
    );
    expect(opened.conversations.find((c) => c.id === bob.identifier)?.unread).toBe(0);
    expect(profile.peers[bob.identifier]?.readUpTo).toBeGreaterThan(0);
    expect(profile.peers[bob.identifier]?.username).toBe('bob');
  });

  it('PageUp loads older history pages until the beginning', async () => {
    const carol = await newUser(relay.url, 'carol-pages');
    for (let i = 0; i < 60; i++) await carol.client.send(sealText(carol, alice, `page ${i}`));
    const { controller } = await aliceDevice();
    controller.openChat(carol.identifier);
    const first = await until(
      controller,
      (s) => messagesWith(s, carol.identifier).length >= 50,
      'a page',
    );
    expect(messagesWith(first, carol.identifier)).toHaveLength(50);
    expect(first.chats.get(carol.identifier)?.hasOlder).toBe(true);
    controller.loadOlder(carol.identifier);
    const all = await until(
      controller,
      (s) => s.chats.get(carol.identifier)?.hasOlder === false,
      'the start',
    );
    const texts = messagesWith(all, carol.identifier).map((m) => m.text);
    expect(texts).toEqual(Array.from({ length: 60 }, (_, i) => `page ${i}`));
    carol.client.close();
  });

  it('refuses to send when the relay serves a key that differs from the pinned one', async () => {
    const home = await tempDir('metachat-tui-');
    const profile = profileFor(alice, relay.url);
    const other = await generateKeyPair();
    profile.peers[bob.identifier] = { publicKey: other.publicKey.encoded };
    const controller = await startController(alice, profile, home, relay.url);
    running.push(controller);
    controller.openChat(bob.identifier);
    await until(
      controller,
      (s) => s.notice?.text.includes('changed') === true,
      'a key-change notice',
    );
    expect(controller.trustOf(bob.identifier)).toBe('changed');
    expect(controller.send(bob.identifier, 'secret')).toBe(false);
    await until(
      controller,
      (s) => /Not sent: the key of .* changed/.test(s.notice?.text ?? ''),
      'refusal',
    );
    expect(
      messagesWith(controller.getSnapshot(), bob.identifier).some((m) => m.text === 'secret'),
    ).toBe(false);
  });

  it('with the chat open, follows a key rotation the moment a packet signed by the new key arrives, and says so', async () => {
    const dora = await newUser(relay.url, 'dora-rotates');
    await dora.client.send(sealText(dora, alice, 'from my first key'));
    const home = await tempDir('metachat-tui-');
    const profile = profileFor(alice, relay.url);
    profile.peers[dora.identifier] = { publicKey: dora.keyPair.publicKey.encoded, verified: true };
    const controller = await startController(alice, profile, home, relay.url);
    running.push(controller);
    await until(controller, (s) => s.connection.status === 'connected', 'connected');
    controller.openChat(dora.identifier);
    await until(
      controller,
      (s) => messagesWith(s, dora.identifier).some((m) => m.text === 'from my first key'),
      'the first message',
    );

    const prepared = await prepareKeyRotation(dora, dora.password, 0, 0);
    await dora.client.rotateKey(prepared.request);
    const renewed = { ...dora, keyPair: prepared.keyPair };
    const device = await RelayClient.connect(relay.url);
    try {
      await device.authenticate(dora.identifier, prepared.keyPair.privateKey);
      await device.send(sealText(renewed, alice, 'from my new key'));
      const shown = await until(
        controller,
        (s) => messagesWith(s, dora.identifier).some((m) => m.text === 'from my new key'),
        'the message signed by the new key',
      );
      expect(shown.notice?.text).toMatch(/replaced their key \(signed by their previous key\)/);
      expect(controller.trustOf(dora.identifier)).toBe('verified');
      expect(profile.peers[dora.identifier]?.publicKey).toBe(prepared.keyPair.publicKey.encoded);
      // And what Alice writes now is sealed to the new key.
      const pushed = collectPackets(device);
      expect(controller.send(dora.identifier, 'to your new key')).toBe(true);
      // Its hello first (Alice never sent Dora her username), then the message.
      const stored = (await pushed.waitFor(2)).at(-1);
      const opened = openPacket({
        packet: stored?.packet,
        sender: { identifier: alice.identifier, publicKey: alice.keyPair.publicKey },
        reader: { identifier: dora.identifier, privateKey: prepared.keyPair.privateKey },
      });
      expect(opened.body).toMatchObject({ text: 'to your new key' });
    } finally {
      device.close();
      dora.client.close();
    }
  });

  it('learns a verify --trust given in another terminal while the screen is open, and then sends', async () => {
    const home = await tempDir('metachat-tui-');
    const initial = profileFor(alice, relay.url);
    initial.peers[bob.identifier] = { publicKey: (await generateKeyPair()).publicKey.encoded };
    await saveProfile(home, initial);
    const controller = await startController(alice, await loadProfile(home), home, relay.url);
    running.push(controller);
    controller.openChat(bob.identifier);
    await until(controller, (s) => s.notice?.text.includes('changed') === true, 'a key change');
    const onDisk = async () => (await loadProfile(home)).peers[bob.identifier];
    await poll(async () => (await onDisk())?.changedKey !== undefined, 'the change saved');
    expect(controller.send(bob.identifier, 'once trusted')).toBe(false);

    const cli = (...args: string[]) =>
      runCli([...args, '--home', home, '--server', relay.url], {
        env: { METACHAT_PASSWORD: 'correct horse battery' },
      });
    expect((await cli('verify', bob.identifier)).code).toBe(0);
    expect((await cli('verify', bob.identifier, '--trust')).code).toBe(0);
    // The screen learns it at its next save, which merges what the other terminal wrote: the refused
    // send's, or an earlier one (an event from the relay can come first).
    if (!controller.send(bob.identifier, 'once trusted')) {
      await poll(() => controller.trustOf(bob.identifier) === 'verified', 'the trust learned');
      expect(controller.send(bob.identifier, 'once trusted')).toBe(true);
    }
    await until(
      controller,
      (s) =>
        messagesWith(s, bob.identifier).some(
          (m) => m.text === 'once trusted' && m.status === 'sent',
        ),
      'sent',
    );
    expect((await onDisk())?.verified).toBe(true);
  }, 30_000);

  it('marks a refused message failed with the reason, and Ctrl+R resends the same packet id', async () => {
    const { account, request } = await prepareRegistration('dave-later', 'correct horse battery');
    const { controller, profile } = await aliceDevice();
    profile.peers[account.identifier] = { publicKey: account.keyPair.publicKey.encoded };
    controller.openChat(account.identifier);
    controller.send(account.identifier, 'before you exist');
    const failed = await until(
      controller,
      (s) => messagesWith(s, account.identifier).some((m) => m.status === 'failed'),
      'failed',
    );
    const message = messagesWith(failed, account.identifier).find((m) => m.status === 'failed');
    expect(message?.failure).toBeDefined();
    expect(controller.getSnapshot().notice).toMatchObject({ tone: 'error' });
    expect(controller.getSnapshot().notice?.text).toMatch(/^Not sent to /);
    await bob.client.register(request);
    controller.retry(account.identifier);
    const sent = await until(
      controller,
      (s) =>
        messagesWith(s, account.identifier).some(
          (m) => m.id === message?.id && m.status === 'sent',
        ),
      'sent after retry',
    );
    // The failure is over: the status line forgets it in the same snapshot, not 8 s later.
    expect(sent.notice).toBeNull();
  });

  it('keeps a send failure on the status line while another message to that peer is still failed', async () => {
    const gone = await prepareRegistration('erin-never', 'correct horse battery');
    const later = await prepareRegistration('frank-later', 'correct horse battery');
    const { controller, profile } = await aliceDevice();
    profile.peers[gone.account.identifier] = { publicKey: gone.account.keyPair.publicKey.encoded };
    profile.peers[later.account.identifier] = {
      publicKey: later.account.keyPair.publicKey.encoded,
    };
    controller.send(later.account.identifier, 'to frank, before he exists');
    await until(
      controller,
      (s) => messagesWith(s, later.account.identifier).some((m) => m.status === 'failed'),
      'frank failed',
    );
    controller.send(gone.account.identifier, 'to erin, who never registers');
    const erinFailed = await until(
      controller,
      (s) => messagesWith(s, gone.account.identifier).some((m) => m.status === 'failed'),
      'erin failed',
    );
    const about = erinFailed.notice?.text;
    expect(about).toMatch(/^Not sent to /);
    // Frank's retry succeeding says nothing about erin's failure: that line stays.
    await bob.client.register(later.request);
    controller.retry(later.account.identifier);
    const frankSent = await until(
      controller,
      (s) => messagesWith(s, later.account.identifier).some((m) => m.status === 'sent'),
      'frank sent',
    );
    expect(frankSent.notice?.text).toBe(about);
  });
});

describe('the outbox across a relay outage', () => {
  it('queues what is written offline, keeps it on disk, and sends it once on reconnect', async () => {
    const dataDir = await tempDir();
    let own = await startTestRelay({ dataDir });
    const port = Number(new URL(own.url).port);
    const a = await newUser(own.url, 'alice-offline');
    const b = await newUser(own.url, 'bob-offline');
    const home = await tempDir('metachat-tui-');
    const profile = profileFor(a, own.url);
    profile.peers[b.identifier] = { publicKey: b.keyPair.publicKey.encoded, helloSent: true };
    const controller = await startController(a, profile, home, own.url);
    running.push(controller);
    await until(controller, (s) => s.connection.status === 'connected', 'connected');
    b.client.close();

    await own.stop(true);
    await until(controller, (s) => s.connection.status === 'reconnecting', 'reconnecting');
    expect(controller.send(b.identifier, 'written offline')).toBe(true);
    const shown = await until(
      controller,
      (s) => messagesWith(s, b.identifier).some((m) => m.text === 'written offline'),
      'queued',
    );
    const queued = messagesWith(shown, b.identifier).find((m) => m.text === 'written offline');
    expect(queued?.status).toBe('sending');
    await until(
      controller,
      (s) => s.connection.status === 'reconnecting' && s.connection.attempt >= 1,
      'an attempt number',
    );
    const onDisk = await readFile(join(home, 'outbox.json'), 'utf8');
    expect(onDisk).toContain(queued?.id);
    expect(onDisk).not.toContain('written offline');
    expect((await stat(join(home, 'outbox.json'))).mode & 0o777).toBe(0o600);

    own = await startTestRelay({ dataDir, port });
    await until(
      controller,
      (s) => messagesWith(s, b.identifier).some((m) => m.id === queued?.id && m.status === 'sent'),
      'sent after reconnect',
      15_000,
    );
    await controller.shutdown();
    running.splice(running.indexOf(controller), 1);
    await expect(stat(join(home, 'outbox.json'))).rejects.toThrow();
    const reader = await secondDevice(own.url, b);
    const page = await reader.sync(0, 500);
    expect(packetsOf(page.packets).filter((p) => p.packet.id === queued?.id)).toHaveLength(1);
    reader.close();
    a.client.close();
    await own.stop();
  });

  it('stops showing anyone online while my link is down, and learns presence again on reconnect', async () => {
    const dataDir = await tempDir();
    let own = await startTestRelay({ dataDir });
    const port = Number(new URL(own.url).port);
    const a = await newUser(own.url, 'alice-presence');
    const b = await newUser(own.url, 'bob-presence');
    let back: RelayClient | undefined;
    try {
      // Presence is shared only in a two-way conversation.
      await b.client.send(sealText(b, a, 'hello'));
      await a.client.send(sealText(a, b, 'hello back'));
      const home = await tempDir('metachat-tui-');
      const controller = await startController(a, profileFor(a, own.url), home, own.url);
      running.push(controller);
      const peer = (s: ChatSnapshot) => s.conversations.find((c) => c.id === b.identifier);
      await until(controller, (s) => peer(s)?.online === true, 'bob online');

      const dropped = Date.now();
      b.client.close();
      await own.stop(true);
      const stale = await until(
        controller,
        (s) => s.connection.status !== 'connected' && peer(s)?.online === false,
        'bob no longer shown online',
      );
      expect(peer(stale)?.lastSeen).toBeGreaterThanOrEqual(dropped - 1_000);

      own = await startTestRelay({ dataDir, port });
      back = await secondDevice(own.url, b);
      await until(controller, (s) => peer(s)?.online === true, 'bob online again', 15_000);
    } finally {
      back?.close();
      a.client.close();
      b.client.close();
      await own.stop();
    }
  });

  it('shutdown waits for a message whose peer key is still being fetched, and sends it', async () => {
    const dave = await newUser(relay.url, 'dave-quick');
    const pushed = collectPackets(dave.client);
    const { controller } = await aliceDevice();
    running.splice(running.indexOf(controller), 1);
    expect(controller.send(dave.identifier, 'said just before quitting')).toBe(true);
    await expect(controller.shutdown()).resolves.toEqual({ unsent: 0, dropped: 0 });
    expect(await pushed.waitFor(2)).toHaveLength(2);
    dave.client.close();
  });

  it('keeps unsent messages through a restart of the client and sends them with the same id', async () => {
    const dataDir = await tempDir();
    let own = await startTestRelay({ dataDir });
    const port = Number(new URL(own.url).port);
    const a = await newUser(own.url, 'alice-restart');
    const b = await newUser(own.url, 'bob-restart');
    b.client.close();
    a.client.close();
    const home = await tempDir('metachat-tui-');
    const profile = profileFor(a, own.url);
    profile.peers[b.identifier] = { publicKey: b.keyPair.publicKey.encoded };
    await own.stop(true);

    const first = await startController(a, profile, home, own.url);
    first.send(b.identifier, 'survives a restart');
    const shown = await until(first, (s) => messagesWith(s, b.identifier).length > 0, 'queued');
    const id = messagesWith(shown, b.identifier).at(-1)?.id;
    const { unsent } = await first.shutdown();
    expect(unsent).toBe(1);

    own = await startTestRelay({ dataDir, port });
    const second = await startController(a, profile, home, own.url);
    running.push(second);
    second.openChat(b.identifier);
    const restored = await until(
      second,
      (s) => messagesWith(s, b.identifier).length > 0,
      'restored',
    );
    expect(messagesWith(restored, b.identifier).find((m) => m.id === id)?.text).toBe(
      'survives a restart',
    );
    await until(
      second,
      (s) => messagesWith(s, b.identifier).some((m) => m.id === id && m.status === 'sent'),
      'sent after restart',
      15_000,
    );
    const reader = await secondDevice(own.url, b);
    const ids = packetsOf((await reader.sync(0, 500)).packets).map((p) => p.packet.id);
    expect(ids.filter((x) => x === id)).toHaveLength(1);
    expect(ids).toHaveLength(2);
    reader.close();
    await second.shutdown();
    running.splice(running.indexOf(second), 1);
    await own.stop();
  });
});
