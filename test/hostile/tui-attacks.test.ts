import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { loadProfile } from '../../src/cli/profile/profile.js';
import { App } from '../../src/cli/tui/App.js';
import type { ChatController } from '../../src/cli/tui/chat-controller.js';
import { generateKeyPair, type Packet, type StoredPacket } from '../../src/core/index.js';
import { collectPackets, sealText, tempDir, type TestUser } from '../support/relay-harness.js';
import { messagesWith, profileFor, startController, until } from '../support/tui-harness.js';
import { startHostileWorld, type HostileWorld } from './hostile-world.js';
import { registerLookalike } from '../support/lookalike.js';
import { flipBase64, flipHex, rewriteStream } from './tampering.js';

let world: HostileWorld;
const running: ChatController[] = [];

beforeAll(async () => {
  world = await startHostileWorld();
}, 60_000);

afterEach(async () => {
  world.hostile.behave({});
  for (const controller of running.splice(0)) await controller.shutdown();
});

afterAll(async () => {
  await world.stop();
});

/** Waits until the screen shows `wanted`. */
async function waitForFrame(app: { lastFrame: () => string | undefined }, wanted: string) {
  const deadline = Date.now() + 8_000;
  while (!(app.lastFrame() ?? '').includes(wanted)) {
    if (Date.now() > deadline)
      throw new Error(`"${wanted}" never shown:\n${app.lastFrame() ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

/** A user's chat screen (its controller, outside React) on a new device, open on Alice's conversation. */
async function screenOf(user: TestUser): Promise<ChatController> {
  const controller = await startController(
    user,
    profileFor(user, world.hostile.url),
    await tempDir('metachat-tui-hostile-'),
    world.hostile.url,
  );
  running.push(controller);
  await until(controller, (s) => s.connection.status === 'connected', 'connected');
  controller.openChat(world.alice.identifier);
  return controller;
}

describe('the chat screen given id#fingerprint, behind a relay that substitutes the key', () => {
  it('refuses exactly as send does: no chat opens, nothing is pinned, nothing is sent', async () => {
    const mallory = await generateKeyPair();
    const home = await tempDir('metachat-tui-hostile-');
    const profile = profileFor(world.carol, world.hostile.url);
    const carol = await startController(world.carol, profile, home, world.hostile.url);
    running.push(carol);
    await until(carol, (s) => s.connection.status === 'connected', 'connected');
    const sends: unknown[] = [];
    world.hostile.behave({
      answer(event, payload) {
        if (event === 'send') sends.push(payload);
        if (event !== 'key') return undefined;
        if ((payload as { identifier?: unknown }).identifier !== world.alice.identifier) {
          return undefined;
        }
        return { ok: true, publicKey: mallory.publicKey.encoded };
      },
    });
    const app = render(createElement(App, { controller: carol, initialPeer: null }));
    try {
      await waitForFrame(app, 'n new chat');
      // Typed as a terminal over ssh delivers it: the key, the address and Enter in one read.
      app.stdin.write(`n${world.alice.identifier}#${world.alice.keyPair.publicKey.fingerprint}\r`);
      await waitForFrame(app, 'whose fingerprint is not the one you gave: refusing');
      // Still the inbox, the address still in the editor: no chat was opened.
      expect(app.lastFrame()).toContain(`> ${world.alice.identifier.slice(0, 20)}`);
      expect(app.lastFrame()).not.toContain('write a message');
      expect(profile.peers[world.alice.identifier]?.publicKey).toBeUndefined();
      expect(profile.peers[world.alice.identifier]?.verified).toBeUndefined();
      // Enter again in the same state is refused again; nothing was ever sent.
      app.stdin.write('\r');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(app.lastFrame()).not.toContain('write a message');
      expect(sends).toEqual([]);
      await carol.shutdown();
      running.splice(running.indexOf(carol), 1);
      const saved = await loadProfile(home);
      expect(saved.peers[world.alice.identifier]?.publicKey).toBeUndefined();
    } finally {
      app.unmount();
    }
  }, 20_000);

  it('opens the chat once the key matches the fingerprint, and marks it verified', async () => {
    const profile = profileFor(world.carol, world.hostile.url);
    const carol = await startController(
      world.carol,
      profile,
      await tempDir('metachat-tui-hostile-'),
      world.hostile.url,
    );
    running.push(carol);
    await until(carol, (s) => s.connection.status === 'connected', 'connected');
    const app = render(createElement(App, { controller: carol, initialPeer: null }));
    try {
      await waitForFrame(app, 'n new chat');
      app.stdin.write(`n${world.alice.identifier}#${world.alice.keyPair.publicKey.fingerprint}\r`);
      await waitForFrame(app, 'write a message');
      expect(profile.peers[world.alice.identifier]?.verified).toBe(true);
    } finally {
      app.unmount();
    }
  }, 20_000);
});

describe('the chat screen behind a relay that swallows a send', () => {
  it('tries again on the live link after the timeout, with the same packet id, and it is sent once', async () => {
    const carol = await screenOf(world.carol);
    const sends: string[] = [];
    world.hostile.behave({
      answer(event, payload) {
        if (event !== 'send') return undefined;
        sends.push((payload as Packet).id);
        // The first attempt is never answered: the client times out with its link still up.
        return sends.length === 1 ? new Promise(() => undefined) : undefined;
      },
    });
    expect(carol.send(world.alice.identifier, 'are you getting this?')).toBe(true);
    const sent = await until(
      carol,
      (s) =>
        messagesWith(s, world.alice.identifier).some(
          (m) => m.text === 'are you getting this?' && m.status === 'sent',
        ),
      'sent after a retry',
      10_000,
    );
    expect(sent.connection.status).toBe('connected');
    // Her hello went first and was swallowed; it was sent again with the same id, then the text.
    expect(sends).toHaveLength(3);
    expect(sends[1]).toBe(sends[0]);
    expect(new Set(sends).size).toBe(2);
  }, 20_000);
});

describe('the chat screen behind a relay that stores a send but loses its acknowledgement', () => {
  it('sends it again with the same id, the relay keeps one copy, and it shows as sent', async () => {
    const carol = await screenOf(world.carol);
    const pushed = collectPackets(world.alice.client);
    let first = true;
    world.hostile.behave({
      answer(event, payload, conn) {
        if (event !== 'send' || !first) return undefined;
        first = false;
        // Stored upstream; the acknowledgement never comes back.
        void conn.ask(event, payload);
        return new Promise(() => undefined);
      },
    });
    expect(carol.send(world.alice.identifier, 'stored, not acknowledged')).toBe(true);
    await until(
      carol,
      (s) =>
        messagesWith(s, world.alice.identifier).some(
          (m) => m.text === 'stored, not acknowledged' && m.status === 'sent',
        ),
      'sent after a retry',
      10_000,
    );
    const ids = pushed.packets.map((stored) => stored.packet.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
  }, 20_000);
});

describe('the chat screen behind a relay that swallows a key lookup', () => {
  it('asks again after the timeout, then seals and sends the message', async () => {
    const carol = await screenOf(world.carol);
    const lookups: unknown[] = [];
    world.hostile.behave({
      answer(event, payload) {
        if (
          event !== 'key' ||
          (payload as { identifier?: unknown }).identifier !== world.bob.identifier
        )
          return undefined;
        lookups.push(payload);
        return lookups.length === 1 ? new Promise(() => undefined) : undefined;
      },
    });
    expect(carol.send(world.bob.identifier, 'once you have my key')).toBe(true);
    await until(
      carol,
      (s) =>
        messagesWith(s, world.bob.identifier).some(
          (m) => m.text === 'once you have my key' && m.status === 'sent',
        ),
      'sent after the key was asked for again',
      12_000,
    );
    expect(lookups.length).toBeGreaterThanOrEqual(2);
  }, 20_000);
});

describe('the chat screen behind a hostile relay', () => {
  it('shows a forged packet as a red warning line, never as text, and a withheld one as a notice', async () => {
    const bob = await screenOf(world.bob);
    const [first, forged, dropped, last] = [
      'before the attack',
      'the forged one',
      'the withheld one',
      'after the attack',
    ].map((text) => sealText(world.alice, world.bob, text));
    if (!first || !forged || !dropped || !last) throw new Error('four packets');
    world.hostile.behave(
      rewriteStream(world.bob.identifier, (packets) =>
        packets
          .filter((stored) => stored.packet.id !== dropped.id)
          .map((stored): StoredPacket =>
            stored.packet.id === forged.id
              ? { ...stored, packet: { ...stored.packet, time: stored.packet.time - 86_400_000 } }
              : stored,
          ),
      ),
    );
    for (const packet of [first, forged, dropped, last]) await world.alice.client.send(packet);
    const snap = await until(
      bob,
      (s) => messagesWith(s, world.alice.identifier).some((m) => m.text === 'after the attack'),
      'the last message',
    );
    const lines = messagesWith(snap, world.alice.identifier);
    expect(lines.flatMap((m) => (m.text === undefined ? [] : [m.text]))).toEqual([
      'before the attack',
      'after the attack',
    ]);
    const warning = lines.find((m) => m.id === forged.id);
    expect(warning?.text).toBeUndefined();
    expect(warning?.warning).toMatch(/forged or altered in transit/);
    const withheld = await until(
      bob,
      (s) => /withheld message/.test(s.notice?.text ?? ''),
      'the withheld-message notice',
    );
    expect(withheld.notice?.tone).toBe('error');
    expect(withheld.conversations.find((c) => c.id === world.alice.identifier)?.rejected).toBe(1);
  });

  it('never shows a packet whose ciphertext was altered, and still shows the honest ones around it', async () => {
    const bob = await screenOf(world.bob);
    const [honest, altered] = ['an honest line', 'an altered line'].map((text) =>
      sealText(world.alice, world.bob, text),
    );
    if (!honest || !altered) throw new Error('two packets');
    world.hostile.behave(
      rewriteStream(world.bob.identifier, (packets) =>
        packets.map((stored) =>
          stored.packet.id === altered.id
            ? { ...stored, packet: { ...stored.packet, ct: flipBase64(stored.packet.ct) } }
            : stored,
        ),
      ),
    );
    await world.alice.client.send(altered);
    await world.alice.client.send(honest);
    const snap = await until(
      bob,
      (s) =>
        messagesWith(s, world.alice.identifier).some((m) => m.text === 'an honest line') &&
        messagesWith(s, world.alice.identifier).some((m) => m.id === altered.id),
      'both lines',
    );
    const lines = messagesWith(snap, world.alice.identifier);
    expect(lines.some((m) => m.text === 'an altered line')).toBe(false);
    expect(lines.find((m) => m.id === altered.id)?.warning).toMatch(/forged or altered/);
  });
});

describe('the chat screen behind a relay that claims positions far ahead', () => {
  it('a push at 2^53-1 moves nothing: every honest message after it is shown, in this session and the next', async () => {
    const home = await tempDir('metachat-tui-jump-');
    const profile = profileFor(world.bob, world.hostile.url);
    const first = await startController(world.bob, profile, home, world.hostile.url);
    running.push(first);
    await until(first, (s) => s.connection.status === 'connected', 'connected');
    first.openChat(world.alice.identifier);
    const bait = sealText(world.alice, world.bob, 'before the lie');
    await world.alice.client.send(bait);
    await until(
      first,
      (s) => messagesWith(s, world.alice.identifier).some((m) => m.text === 'before the lie'),
      'the first message',
    );
    const forged = { ...bait, id: flipHex(bait.id) };
    for (const conn of world.hostile.connectionsOf(world.bob.identifier)) {
      conn.push('packet', { seq: Number.MAX_SAFE_INTEGER, serverTime: Date.now(), packet: forged });
      conn.push('packet', {
        seq: 2_000_000_000,
        serverTime: Date.now(),
        packet: sealText(world.alice, world.bob, 'genuine, never stored there'),
      });
    }
    await until(first, (s) => /far beyond the end/.test(s.notice?.text ?? ''), 'the lie reported');
    await world.alice.client.send(sealText(world.alice, world.bob, 'after the lie'));
    await until(
      first,
      (s) => messagesWith(s, world.alice.identifier).some((m) => m.text === 'after the lie'),
      'the honest message after the lie',
    );
    expect(profile.seenUpTo).toBeLessThan(1_000_000);
    await first.shutdown();
    running.splice(running.indexOf(first), 1);
    const second = await startController(world.bob, profile, home, world.hostile.url);
    running.push(second);
    await until(second, (s) => s.connection.status === 'connected', 'connected again');
    second.openChat(world.alice.identifier);
    await world.alice.client.send(sealText(world.alice, world.bob, 'next session'));
    const snap = await until(
      second,
      (s) => messagesWith(s, world.alice.identifier).some((m) => m.text === 'next session'),
      'the next session’s message',
    );
    expect(
      messagesWith(snap, world.alice.identifier).some(
        (m) => m.text === 'genuine, never stored there',
      ),
    ).toBe(false);
  });
});

describe('the chat screen and a look-alike of a contact', () => {
  it('names the look-alike differently in the inbox and the header, and flags it, not the contact', async () => {
    const mallory = await registerLookalike(world.real.url, world.bob.identifier, 50);
    try {
      const alice = await startController(
        world.alice,
        profileFor(world.alice, world.hostile.url),
        await tempDir('metachat-tui-lookalike-'),
        world.hostile.url,
      );
      running.push(alice);
      await until(alice, (s) => s.connection.status === 'connected', 'connected');
      expect(alice.send(world.bob.identifier, 'hi bob')).toBe(true);
      await world.bob.client.send(sealText(world.bob, world.alice, 'hi alice'));
      await mallory.client.send(
        sealText(mallory, world.alice, 'bob again: new laptop, resend the door code here'),
      );
      const snap = await until(
        alice,
        (s) => s.conversations.some((c) => c.id === mallory.identifier),
        'the look-alike in the inbox',
      );
      const bob = snap.conversations.find((c) => c.id === world.bob.identifier);
      const fake = snap.conversations.find((c) => c.id === mallory.identifier);
      expect(bob?.name).toBeDefined();
      expect(fake?.name).not.toBe(bob?.name);
      expect(fake?.lookalike).toBe(bob?.name);
      expect(bob?.lookalike).toBeUndefined();
      expect(fake?.shortId).not.toBe(bob?.shortId);
      expect(alice.labelOf(mallory.identifier).lookalike).toBe(bob?.name);
    } finally {
      mallory.client.close();
    }
  });
});
