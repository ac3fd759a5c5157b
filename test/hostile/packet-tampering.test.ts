import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isWarning, readStored, type MessageLine } from '../../src/cli/stream/messages.js';
import { checkHistoryPage } from '../../src/cli/stream/stream-guard.js';
import { bytesToHex, systemRandom, type Packet, type StoredPacket } from '../../src/core/index.js';
import { sealText, type TestUser } from '../support/relay-harness.js';
import { startHostileWorld, sessionOf, type HostileWorld } from './hostile-world.js';
import { alterPackets, flipBase64, flipHex, rewriteStream } from './tampering.js';
import { asPacket, packetsOf } from '../support/records.js';

let world: HostileWorld;

beforeAll(async () => {
  world = await startHostileWorld();
}, 60_000);

afterAll(async () => {
  await world.stop();
});

function fresh(label: string): string {
  return `${label} ${bytesToHex(systemRandom(6))}`;
}

/** Sends a fresh text from one user to another through the hostile relay; returns it and its seq for the recipient. */
async function send(from: TestUser, to: TestUser, text: string): Promise<Packet> {
  const packet = sealText(from, to, text);
  await from.client.send(packet);
  return packet;
}

/** Bob's stored packet at a position, as the (possibly hostile) relay serves it now. */
async function bobsPacketAt(seq: number): Promise<StoredPacket> {
  const page = await world.bob.client.sync(seq - 1, 1);
  const stored = page.packets[0];
  if (stored?.seq !== seq) throw new Error(`no packet at ${seq}`);
  return asPacket(stored);
}

/** Where a packet lies in Bob's stream (read honestly). */
async function seqForBob(id: string): Promise<number> {
  const page = await world.bob.client.sync(0, 500);
  const stored = packetsOf(page.packets).find((entry) => entry.packet.id === id);
  if (!stored) throw new Error('packet not in the stream');
  return stored.seq;
}

async function bobReads(stored: StoredPacket): Promise<MessageLine> {
  const line = await readStored(sessionOf(world.bob, world.hostile.url), stored);
  if (!line) throw new Error('no line');
  return line;
}

function expectRefused(line: MessageLine, code: string, secret: string): void {
  expect(isWarning(line)).toBe(true);
  expect(line).toMatchObject({ code });
  expect(line).not.toHaveProperty('text');
  expect(JSON.stringify(line)).not.toContain(secret);
}

const alterations: [string, (packet: Packet, world: HostileWorld) => Packet][] = [
  ['the ciphertext', (p) => ({ ...p, ct: flipBase64(p.ct) })],
  ['the IV', (p) => ({ ...p, iv: flipBase64(p.iv) })],
  [
    'the header field from (claiming another sender)',
    (p, w) => ({ ...p, from: w.carol.identifier }),
  ],
  ['the header field to', (p, w) => ({ ...p, to: w.carol.identifier })],
  ['the header field time', (p) => ({ ...p, time: p.time - 86_400_000 })],
  ['the header field id (packet id)', (p) => ({ ...p, id: flipHex(p.id) })],
  ['the wrapped keys, swapped', (p) => ({ ...p, keyTo: p.keyFrom, keyFrom: p.keyTo })],
  ['the recipient’s wrapped key', (p) => ({ ...p, keyTo: flipBase64(p.keyTo) })],
  ['the signature', (p) => ({ ...p, sig: flipBase64(p.sig) })],
];

describe('a relay that alters packets in transit', () => {
  it.each(alterations)(
    'altering %s is detected (SIGNATURE_INVALID) and the text is never shown',
    async (_what, alter) => {
      const secret = fresh('genuine');
      const packet = await send(world.alice, world.bob, secret);
      const seq = await seqForBob(packet.id);
      expect(await bobReads(await bobsPacketAt(seq))).toMatchObject({ text: secret });
      world.hostile.behave(
        alterPackets(
          world.bob.identifier,
          (stored) => stored.seq === seq,
          (stored) => ({ ...stored, packet: alter(stored.packet, world) }),
        ),
      );
      try {
        const tampered = await bobsPacketAt(seq);
        expect(tampered.packet).toEqual(alter(packet, world));
        const line = await bobReads(tampered);
        expectRefused(line, 'SIGNATURE_INVALID', secret);
        expect(isWarning(line) && line.warning).toMatch(/forged or altered/);
      } finally {
        world.hostile.behave({});
      }
    },
  );

  it('a sender rewritten to an identifier nobody registered is refused, never shown', async () => {
    const secret = fresh('orphan');
    const packet = await send(world.alice, world.bob, secret);
    const seq = await seqForBob(packet.id);
    world.hostile.behave(
      alterPackets(
        world.bob.identifier,
        (stored) => stored.seq === seq,
        (stored) => ({ ...stored, packet: { ...stored.packet, from: 'e'.repeat(64) } }),
      ),
    );
    try {
      expectRefused(await bobReads(await bobsPacketAt(seq)), 'UNKNOWN_IDENTIFIER', secret);
    } finally {
      world.hostile.behave({});
    }
  });
});

describe('a relay that delivers packets to the wrong reader or conversation', () => {
  it('a packet addressed to someone else is refused (NOT_ADDRESSED_TO_ME)', async () => {
    const secret = fresh('for carol only');
    const forCarol = await send(world.alice, world.carol, secret);
    const sent = world.hostile.requests.find(
      (request) => request.event === 'send' && (request.payload as Packet).id === forCarol.id,
    );
    expect(sent).toBeDefined();
    const captured = sent?.payload as Packet;
    const bobNext = (await world.bob.client.sync(0, 500)).packets.length + 1;
    world.hostile.behave(
      rewriteStream(world.bob.identifier, (packets, route) =>
        route === 'sync'
          ? [...packets, { seq: bobNext, serverTime: Date.now(), packet: captured }]
          : packets,
      ),
    );
    try {
      const injected = await bobsPacketAt(bobNext);
      expect(injected.packet).toEqual(forCarol);
      expectRefused(await bobReads(injected), 'NOT_ADDRESSED_TO_ME', secret);
    } finally {
      world.hostile.behave({});
    }
  });

  it('a genuine packet of another conversation slipped into a history page is flagged (WRONG_CONVERSATION)', async () => {
    const fromCarol = await send(world.carol, world.bob, fresh('carol to bob'));
    const carolsStored = packetsOf((await world.bob.client.sync(0, 500)).packets).find(
      (stored) => stored.packet.id === fromCarol.id,
    );
    expect(carolsStored).toBeDefined();
    await send(world.alice, world.bob, fresh('alice to bob'));
    world.hostile.behave(
      rewriteStream(world.bob.identifier, (packets, route) =>
        route === 'history' && carolsStored
          ? [carolsStored, ...packets].sort((a, b) => a.seq - b.seq)
          : packets,
      ),
    );
    try {
      const page = await world.bob.client.history(world.alice.identifier);
      const issues = checkHistoryPage(
        { me: world.bob.identifier, peer: world.alice.identifier },
        page.packets,
      );
      const flagged = packetsOf(page.packets).filter((_, index) => issues[index] !== undefined);
      expect(flagged.map((stored) => stored.packet.id)).toEqual([fromCarol.id]);
      expect(issues.find((issue) => issue !== undefined)).toMatchObject({
        code: 'WRONG_CONVERSATION',
      });
    } finally {
      world.hostile.behave({});
    }
  });
});
