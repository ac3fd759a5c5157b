import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { HistoryStore } from '../../src/cli/history/history-store.js';
import type { ChatController } from '../../src/cli/tui/chat-controller.js';
import type { SearchHit, SearchOutcome } from '../../src/cli/tui/chat-cache.js';
import { loadProfile } from '../../src/cli/profile/profile.js';
import {
  newUser,
  sealText,
  startTestRelay,
  tempDir,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { messagesWith, profileFor, startController, until } from '../support/tui-harness.js';

let relay: TestRelay;
let alice: TestUser;
/** Each test's own peer, so one test's messages never show in another's conversation. */
let bob: TestUser;
const peers: TestUser[] = [];
const running: ChatController[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
  alice = await newUser(relay.url, 'alice');
});

afterEach(async () => {
  for (const controller of running.splice(0)) await controller.shutdown();
});

afterAll(async () => {
  alice.client.close();
  for (const peer of peers) peer.client.close();
  await relay.stop();
});

/** The hits of a search (none for an error). */
function hits(outcome: SearchOutcome): readonly SearchHit[] {
  return 'hits' in outcome ? outcome.hits : [];
}

/** A loopback address where nothing listens: a port taken, then given back. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${String(address.port)}`;
}

/** One device of alice: a home, the history key, and a controller on `url` over its history. */
async function device(home: string, key: Uint8Array, url: string, fresh = false) {
  const profile = fresh ? profileFor(alice, relay.url) : await loadProfile(home);
  const history = HistoryStore.open(home, key);
  const controller = await startController(alice, profile, home, url, history);
  running.push(controller);
  return { controller, history };
}

/** A first session on the relay: bob's messages opened, verified and kept, then quit. */
async function firstSession(texts: readonly string[]) {
  const home = await tempDir('metachat-tui-cache-');
  const key = randomBytes(32);
  bob = await newUser(relay.url, `bob${String(peers.length)}`);
  peers.push(bob);
  for (const text of texts) await bob.client.send(sealText(bob, alice, text));
  const { controller } = await device(home, key, relay.url, true);
  controller.openChat(bob.identifier);
  const last = texts.at(-1);
  await until(
    controller,
    (s) => messagesWith(s, bob.identifier).some((m) => m.text === last),
    'the relay page',
  );
  await controller.shutdown();
  running.splice(running.indexOf(controller), 1);
  return { home, key };
}

describe('the chat screen over the local history', () => {
  it('opens a conversation from the history with the relay out of reach, and says so', async () => {
    const { home, key } = await firstSession(['cached one', 'cached two 🦊']);
    const { controller } = await device(home, key, await deadUrl());
    controller.openChat(bob.identifier);
    const shown = await until(
      controller,
      (s) => messagesWith(s, bob.identifier).length === 2,
      'the cached messages',
    );
    expect(messagesWith(shown, bob.identifier).map((m) => m.text)).toEqual([
      'cached one',
      'cached two 🦊',
    ]);
    expect(shown.chats.get(bob.identifier)?.cached).toBe(true);
    expect(shown.connection.status).not.toBe('connected');
  });

  it('then catches up from the relay: newer messages merged, none twice, the cache mark gone', async () => {
    const { home, key } = await firstSession(['before 1', 'before 2']);
    await bob.client.send(sealText(bob, alice, 'while away'));
    const { controller, history } = await device(home, key, relay.url);
    controller.openChat(bob.identifier);
    // Shown before any connection: the snapshot of the very next tick holds the cache.
    const first = await until(
      controller,
      (s) => messagesWith(s, bob.identifier).length > 0,
      'anything shown',
    );
    expect(first.connection.status).not.toBe('connected');
    expect(first.chats.get(bob.identifier)?.cached).toBe(true);
    const caught = await until(
      controller,
      (s) => s.chats.get(bob.identifier)?.cached === false,
      'the relay page',
    );
    const messages = messagesWith(caught, bob.identifier);
    expect(messages.map((m) => m.text)).toEqual(['before 1', 'before 2', 'while away']);
    expect(new Set(messages.map((m) => m.seq)).size).toBe(messages.length);
    // What the screen verified is kept, once each.
    expect(history.page(bob.identifier, 10).messages.map((m) => m.text)).toEqual([
      'before 1',
      'before 2',
      'while away',
    ]);
  });

  it('keeps what I send from the chat screen in the history once the relay stored it', async () => {
    const { home, key } = await firstSession(['say something']);
    const { controller, history } = await device(home, key, relay.url);
    await until(controller, (s) => s.connection.status === 'connected', 'connected');
    controller.openChat(bob.identifier);
    expect(controller.send(bob.identifier, 'my answer 👍🏽 to 👨‍👩‍👧')).toBe(true);
    const sent = await until(
      controller,
      (s) => messagesWith(s, bob.identifier).some((m) => m.status === 'sent'),
      'sent',
    );
    const mine = messagesWith(sent, bob.identifier).find((m) => m.status === 'sent');
    const kept = history.page(bob.identifier, 10).messages.at(-1);
    expect(kept).toMatchObject({
      id: mine?.id,
      seq: mine?.seq,
      direction: 'outgoing',
      text: 'my answer 👍🏽 to 👨‍👩‍👧',
    });
    expect(hits(controller.search('answer')).map((hit) => hit.id)).toEqual([mine?.id]);
  });

  it('searches with the rules of metachat search and opens the conversation at a hit', async () => {
    const texts = ['the needle 🦊 is here', ...Array.from({ length: 60 }, (_, i) => `hay ${i}`)];
    const { home, key } = await firstSession(texts);
    const { controller } = await device(home, key, await deadUrl());
    const found = hits(controller.search('NEEDLE 🦊'));
    expect(found.map((hit) => hit.text)).toEqual(['the needle 🦊 is here']);
    const hit = found[0];
    expect(hit?.name).toBe(controller.nameOf(bob.identifier));
    // Operators are searched as words, never run: no error, no match.
    for (const odd of ['NEAR(needle', '"needle', 'needle*', 'text:needle OR hay'])
      expect(controller.search(odd)).not.toHaveProperty('error');
    expect(controller.search('x'.repeat(600))).toMatchObject({ code: 'SEARCH_TOO_LONG' });
    expect(controller.search(' \u200f ')).toMatchObject({ code: 'SEARCH_EMPTY' });
    // The newest page alone would not hold the hit: opened at it, it is there with what follows.
    expect(controller.openAt(bob.identifier, hit?.id ?? '')).toBe(true);
    const opened = await until(
      controller,
      (s) => messagesWith(s, bob.identifier).some((m) => m.id === hit?.id),
      'the hit shown',
    );
    const texts2 = messagesWith(opened, bob.identifier).map((m) => m.text);
    expect(texts2[0]).toBe('the needle 🦊 is here');
    expect(texts2.at(-1)).toBe('hay 59');
    expect(controller.openAt(bob.identifier, 'f'.repeat(32))).toBe(false);
  });
});
