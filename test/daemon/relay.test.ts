import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loginAccount } from '../../src/cli/relay/account.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { identifierFromUsername, openPacket, type PresenceUpdate } from '../../src/core/index.js';
import {
  collectPackets,
  newUser,
  sealText,
  secondDevice,
  startTestRelay,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { packetsOf } from '../support/records.js';

let server: TestRelay;
let alice: TestUser;
let bob: TestUser;
const extra: RelayClient[] = [];

function read(user: TestUser, packet: unknown, from: TestUser) {
  return openPacket({
    packet,
    reader: { identifier: user.identifier, privateKey: user.keyPair.privateKey },
    sender: { identifier: from.identifier, publicKey: from.keyPair.publicKey },
  });
}

beforeAll(async () => {
  server = await startTestRelay();
  alice = await newUser(server.url, 'alice');
  bob = await newUser(server.url, 'bob');
});

afterAll(async () => {
  for (const client of [alice.client, bob.client, ...extra]) client.close();
  await server.stop();
});

describe('accounts', () => {
  it('logs in on a new device with the password alone and recovers the same key pair', async () => {
    const device = await RelayClient.connect(server.url);
    extra.push(device);
    const account = await loginAccount(device, 'ALICE', alice.password);
    expect(account.identifier).toBe(alice.identifier);
    expect(account.keyPair.publicKey.fingerprint).toBe(alice.keyPair.publicKey.fingerprint);
    await device.authenticate(account.identifier, account.keyPair.privateKey);
  });

  it('gives an unknown identifier stable, well-formed KDF parameters, like a real one', async () => {
    const probe = await RelayClient.connect(server.url);
    extra.push(probe);
    const ghost = identifierFromUsername('nobody-here');
    const first = await probe.prelogin(ghost);
    expect(await probe.prelogin(ghost)).toEqual(first);
    const real = await probe.prelogin(alice.identifier);
    expect(Object.keys(first).sort()).toEqual(Object.keys(real).sort());
    expect(first.iterations).toBe(real.iterations);
    expect(first.salt).not.toBe(real.salt);
  });

  it('serves a public key to authenticated sockets', async () => {
    expect(await alice.client.key(bob.identifier)).toBe(bob.keyPair.publicKey.encoded);
  });
});

describe('messages', () => {
  it('delivers a sent packet in real time and acknowledges it with the sender’s sequence number', async () => {
    const inbox = collectPackets(bob.client);
    const packet = sealText(alice, bob, 'hello bob');
    const ack = await alice.client.send(packet);
    expect(ack.duplicate).toBe(false);
    expect(ack.seq).toBeGreaterThanOrEqual(1);
    const [pushed] = await inbox.waitFor(1);
    expect(pushed?.packet).toEqual(packet);
    expect(read(bob, pushed?.packet, alice).body).toEqual({
      v: 1,
      type: 'text',
      text: 'hello bob',
    });
  });

  it('numbers each user’s stream 1, 2, 3… without gaps', async () => {
    const page = await bob.client.sync(0);
    expect(packetsOf(page.packets).map((p) => p.seq)).toEqual(
      packetsOf(page.packets).map((_, i) => i + 1),
    );
  });

  it('delivers what was sent while the recipient was offline through sync', async () => {
    const carol = await newUser(server.url, 'carol');
    carol.client.close();
    const sent = [
      sealText(alice, carol, 'one'),
      sealText(alice, carol, 'two'),
      sealText(alice, carol, 'three'),
    ];
    for (const packet of sent) await alice.client.send(packet);
    const back = await secondDevice(server.url, carol);
    extra.push(back);
    const page = await back.sync(0);
    expect(page.more).toBe(false);
    expect(packetsOf(page.packets).map((p) => read(carol, p.packet, alice).body)).toEqual(
      ['one', 'two', 'three'].map((text) => ({ v: 1, type: 'text', text })),
    );
    const firstPage = await back.sync(0, 2);
    expect(firstPage.packets).toHaveLength(2);
    expect(firstPage.more).toBe(true);
    expect((await back.sync(2, 2)).packets.map((p) => p.seq)).toEqual([3]);
  });

  it('reaches both devices of the recipient and the sender’s other device, which can read its own message', async () => {
    const bobPhone = await secondDevice(server.url, bob);
    const alicePhone = await secondDevice(server.url, alice);
    extra.push(bobPhone, alicePhone);
    const bobDesk = collectPackets(bob.client);
    const bobMobile = collectPackets(bobPhone);
    const aliceMobile = collectPackets(alicePhone);
    const aliceDesk = collectPackets(alice.client);
    const packet = sealText(alice, bob, 'to every device');
    await alice.client.send(packet);
    for (const inbox of [bobDesk, bobMobile, aliceMobile]) {
      const [stored] = await inbox.waitFor(1);
      expect(stored?.packet.id).toBe(packet.id);
    }
    const [own] = await aliceMobile.waitFor(1);
    expect(read(alice, own?.packet, alice)).toMatchObject({
      direction: 'outgoing',
      body: { text: 'to every device' },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(aliceDesk.packets).toHaveLength(0);
  });

  it('stores a resend of the same packet id once and acknowledges it again', async () => {
    const packet = sealText(alice, bob, 'exactly once');
    const first = await alice.client.send(packet);
    const again = await alice.client.send(packet);
    expect(again).toEqual({ ...first, duplicate: true });
    const page = await bob.client.sync(0, 500);
    expect(packetsOf(page.packets).filter((p) => p.packet.id === packet.id)).toHaveLength(1);
  });

  it('pages a conversation’s history backwards, oldest first within a page', async () => {
    const dave = await newUser(server.url, 'dave');
    extra.push(dave.client);
    for (let i = 1; i <= 5; i++) await alice.client.send(sealText(alice, dave, `m${i}`));
    const latest = await dave.client.history(alice.identifier, undefined, 2);
    const texts = (page: typeof latest) =>
      packetsOf(page.packets).map((p) => read(dave, p.packet, alice).body);
    expect(texts(latest)).toEqual([
      { v: 1, type: 'text', text: 'm4' },
      { v: 1, type: 'text', text: 'm5' },
    ]);
    expect(latest.more).toBe(true);
    const older = await dave.client.history(alice.identifier, latest.packets[0]?.seq, 10);
    expect(texts(older).map((b) => (b.type === 'text' ? b.text : ''))).toEqual(['m1', 'm2', 'm3']);
    expect(older.more).toBe(false);
  });

  it('tells a stranger nothing of delivery (no presence oracle), and a two-way contact everything', async () => {
    const erin = await newUser(server.url, 'erin');
    extra.push(erin.client);
    const notices: { id: string; to: string; seq: number }[] = [];
    alice.client.on('delivered', (notice) => notices.push(notice));
    // Alice is a stranger to erin: erin's device coming online and acknowledging tells her nothing.
    const hello = sealText(alice, erin, 'a stranger says hi');
    await alice.client.send(hello);
    const page = await erin.client.sync(0);
    await erin.client.receipt(page.packets.at(-1)?.seq ?? 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(notices).toEqual([]);
    const strangerView = await alice.client.history(erin.identifier);
    expect(
      packetsOf(strangerView.packets).find((p) => p.packet.id === hello.id)?.delivered,
    ).toBeUndefined();
    // Once erin answers, the conversation is two-way, and receipts flow as presence does.
    await erin.client.send(sealText(erin, alice, 'hi back'));
    const packet = sealText(alice, erin, 'did you get this?');
    const ack = await alice.client.send(packet);
    const next = await erin.client.sync(0);
    await erin.client.receipt(next.packets.at(-1)?.seq ?? 0);
    for (let i = 0; i < 50 && notices.length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(notices).toContainEqual({ id: packet.id, to: erin.identifier, seq: ack.seq });
    const mine = await alice.client.history(erin.identifier);
    expect(packetsOf(mine.packets).find((p) => p.packet.id === packet.id)?.delivered).toBe(true);
  });
});

describe('the public-key cache', () => {
  it('checks every sender right when it holds one key: each send evicts another user\u2019s', async () => {
    const small = await startTestRelay({ limits: { cachedPublicKeys: 1 } });
    const users = [];
    for (const name of ['cache-a', 'cache-b', 'cache-c'])
      users.push(await newUser(small.url, name));
    try {
      const [a, b, c] = users as [TestUser, TestUser, TestUser];
      const inbox = collectPackets(c.client);
      for (let round = 0; round < 3; round++) {
        expect((await a.client.send(sealText(a, c, `a${round}`))).duplicate).toBe(false);
        expect((await b.client.send(sealText(b, c, `b${round}`))).duplicate).toBe(false);
      }
      const pushed = await inbox.waitFor(6);
      expect(pushed.map((p) => p.packet.from)).toEqual([a, b, a, b, a, b].map((u) => u.identifier));
    } finally {
      for (const user of users) user.client.close();
      await small.stop();
    }
  });
});

describe('presence', () => {
  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  }

  it('tells the other side of a two-way conversation when a user comes and goes, ending in the true state', async () => {
    const updates: PresenceUpdate[] = [];
    alice.client.on('presence', (update) => updates.push(update));
    const frank = await newUser(server.url, 'frank');
    await frank.client.send(sealText(frank, alice, 'hi'));
    await alice.client.send(sealText(alice, frank, 'hi frank'));
    frank.client.close();
    await until(() => updates.some((u) => u.identifier === frank.identifier && !u.online));
    const back = await secondDevice(server.url, frank);
    await until(() => updates.at(-1)?.online === true);
    const before = Date.now();
    back.close();
    await until(() => updates.at(-1)?.online === false);
    const last = updates.filter((u) => u.identifier === frank.identifier).at(-1);
    expect(last?.online).toBe(false);
    expect(last?.lastSeen).toBeGreaterThanOrEqual(before - 5);
  });

  it('tells both sides of a first exchange that the other is online, without a reconnection', async () => {
    const grace = await newUser(server.url, 'grace');
    const henry = await newUser(server.url, 'henry');
    extra.push(grace.client, henry.client);
    const toGrace: PresenceUpdate[] = [];
    const toHenry: PresenceUpdate[] = [];
    grace.client.on('presence', (update) => toGrace.push(update));
    henry.client.on('presence', (update) => toHenry.push(update));
    await grace.client.send(sealText(grace, henry, 'first'));
    await new Promise((r) => setTimeout(r, 100));
    // One packet is no conversation: nothing yet.
    expect(toGrace).toEqual([]);
    expect(toHenry).toEqual([]);
    await henry.client.send(sealText(henry, grace, 'the reply'));
    await until(() => toGrace.length > 0 && toHenry.length > 0);
    expect(toGrace).toEqual([
      expect.objectContaining({ identifier: henry.identifier, online: true }),
    ]);
    expect(toHenry).toEqual([
      expect.objectContaining({ identifier: grace.identifier, online: true }),
    ]);
    // Later packets introduce nobody again.
    await henry.client.send(sealText(henry, grace, 'and again'));
    await new Promise((r) => setTimeout(r, 100));
    expect(toGrace).toHaveLength(1);
  });

  it('tells a stranger who only wrote once nothing about the recipient', async () => {
    const stranger = await newUser(server.url, 'stranger');
    extra.push(stranger.client);
    const seen: PresenceUpdate[] = [];
    stranger.client.on('presence', (update) => seen.push(update));
    await stranger.client.send(sealText(stranger, bob, 'hello?'));
    const bobAgain = await secondDevice(server.url, bob);
    bobAgain.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.filter((u) => u.identifier === bob.identifier)).toEqual([]);
  });
});

describe('health', () => {
  it('answers GET /healthz with uptime, users and connections', async () => {
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body['status']).toBe('ok');
    expect(typeof body['connections']).toBe('number');
    expect(typeof body['uptimeSeconds']).toBe('number');
    expect(body['users']).toBeGreaterThanOrEqual(2);
  });
});
