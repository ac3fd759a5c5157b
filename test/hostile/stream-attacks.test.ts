import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  followStream,
  type StreamFollower,
  type StreamItem,
} from '../../src/cli/stream/stream-follower.js';
import { StreamGuard, type StreamGuardState } from '../../src/cli/stream/stream-guard.js';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';
import {
  SignatureInvalidError,
  verifyPacketSignature,
  type Packet,
  type StoredPacket,
} from '../../src/core/index.js';
import { sealText, secondDevice } from '../support/relay-harness.js';
import type { Behaviour } from './hostile-relay.js';
import { startHostileWorld, type HostileWorld } from './hostile-world.js';
import { flipBase64, flipHex, rewriteStream } from './tampering.js';
import { asPacket } from '../support/records.js';

let world: HostileWorld;
const open: RelayClient[] = [];

beforeAll(async () => {
  world = await startHostileWorld();
}, 60_000);

afterEach(() => {
  world.hostile.behave({});
  for (const client of open.splice(0)) client.close();
});

afterAll(async () => {
  await world.stop();
});

/** The highest position of Bob's stream, read honestly. */
async function streamEnd(): Promise<number> {
  let end = 0;
  for (let more = true; more;) {
    const page = await world.bob.client.sync(end, 500);
    end = page.packets.at(-1)?.seq ?? end;
    more = page.more;
  }
  return end;
}

/** A device of Bob's that follows its stream through the hostile relay, collecting what it is handed. */
interface Follow {
  readonly items: StreamItem[];
  readonly guard: StreamGuard;
  readonly follower: StreamFollower;
  texts(): string[];
  codes(): string[];
  waitFor(predicate: (items: StreamItem[]) => boolean, ms?: number): Promise<void>;
}

async function follow(state: StreamGuardState): Promise<Follow> {
  const client = await secondDevice(world.hostile.url, world.bob);
  open.push(client);
  const guard = new StreamGuard(state);
  const items: StreamItem[] = [];
  // Bob's device verifies what it is handed, as the CLI and the chat screen do: only then does it count.
  const follower = await followStream(client, guard, (item) => {
    items.push(item);
    if (item.kind !== 'packet') return false;
    try {
      verifyPacketSignature(asPacket(item.stored).packet, world.alice.keyPair.publicKey);
      return true;
    } catch {
      return false;
    }
  });
  return {
    items,
    guard,
    follower,
    texts: () =>
      items.flatMap((item) =>
        item.kind === 'packet' ? [textOf.get(asPacket(item.stored).packet.id) ?? '?'] : [],
      ),
    codes: () => items.flatMap((item) => (item.issue ? [item.issue.code] : [])),
    async waitFor(predicate, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!predicate(items)) {
        if (Date.now() > deadline) throw new Error(`timed out; items: ${JSON.stringify(items)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await follower.idle();
    },
  };
}

/** Which text each sealed packet carries (the follower hands over packets, not yet opened). */
const textOf = new Map<string, string>();

function seal(text: string): Packet {
  const packet = sealText(world.alice, world.bob, text);
  textOf.set(packet.id, text);
  return packet;
}

async function aliceSends(...packets: Packet[]): Promise<void> {
  for (const packet of packets) await world.alice.client.send(packet);
}

function dropFor(ids: ReadonlySet<string>) {
  return rewriteStream(world.bob.identifier, (packets) =>
    packets.filter((stored) => !ids.has(stored.packet.id)),
  );
}

/** Holds the push of `first` back and delivers it right after the push of `second`. */
function swapPushes(first: Packet, second: Packet): NonNullable<Behaviour['push']> {
  let held: unknown;
  return (event, payload) => {
    const id = (payload as StoredPacket).packet.id;
    if (event === 'packet' && id === first.id) {
      held = payload;
      return [];
    }
    if (event === 'packet' && id === second.id) return [payload, held];
    return [payload];
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a relay that drops messages', () => {
  it('dropping one live message is noticed as a gap (STREAM_GAP) once a later one arrives', async () => {
    const end = await streamEnd();
    const bob = await follow({ seenUpTo: end });
    const [m1, m2, m3] = [seal('one'), seal('two (dropped)'), seal('three')];
    world.hostile.behave(dropFor(new Set([m2.id])));
    await aliceSends(m1, m2, m3);
    await bob.waitFor(() => bob.codes().includes('STREAM_GAP'));
    expect(bob.texts()).toEqual(['one', 'three']);
    expect(bob.items.at(-1)).toMatchObject({
      kind: 'issue',
      issue: {
        code: 'STREAM_GAP',
        missing: [end + 2],
        message: /withheld message \d+ of your stream/,
      },
    });
    expect(bob.guard.seenUpTo).toBe(end + 3);
  });

  it('dropping a message while the device was away is noticed when it catches up', async () => {
    const end = await streamEnd();
    const [m1, m2, m3] = [seal('away one'), seal('away two (dropped)'), seal('away three')];
    await aliceSends(m1, m2, m3);
    world.hostile.behave(dropFor(new Set([m2.id])));
    const bob = await follow({ seenUpTo: end });
    await bob.follower.idle();
    expect(bob.texts()).toEqual(['away one', 'away three']);
    expect(bob.codes()).toEqual(['STREAM_GAP']);
  });

  it('LIMIT: withholding the newest message (or everything) shows nothing until a later message reveals the gap', async () => {
    const end = await streamEnd();
    const bob = await follow({ seenUpTo: end });
    const last = seal('newest (withheld)');
    world.hostile.behave(dropFor(new Set([last.id])));
    await aliceSends(last);
    await sleep(300);
    await bob.follower.idle();
    expect(bob.items).toEqual([]);
    await aliceSends(seal('a later one'));
    await bob.waitFor(() => bob.codes().includes('STREAM_GAP'));
    expect(bob.texts()).toEqual(['a later one']);
  });

  it('LIMIT: a delayed message is shown when it arrives, without a warning', async () => {
    const end = await streamEnd();
    const bob = await follow({ seenUpTo: end });
    world.hostile.behave({
      push(event, payload) {
        if (event !== 'packet') return [payload];
        setTimeout(() => {
          for (const conn of world.hostile.connectionsOf(world.bob.identifier))
            conn.push(event, payload);
        }, 600);
        return [];
      },
    });
    const late = seal('delayed');
    await aliceSends(late);
    await bob.waitFor((items) => items.length > 0);
    expect(bob.texts()).toEqual(['delayed']);
    expect(bob.codes()).toEqual([]);
    const shown = bob.items[0];
    expect(shown?.kind === 'packet' && asPacket(shown.stored).packet.time).toBeLessThan(
      Date.now() - 500,
    );
  });
});

describe('a relay that reorders messages', () => {
  it('reordering pushes and pages is reported (STREAM_REORDERED)', async () => {
    const end = await streamEnd();
    const bob = await follow({ seenUpTo: end });
    const [m1, m2] = [seal('first'), seal('second')];
    world.hostile.behave({
      ...rewriteStream(world.bob.identifier, (packets, route) =>
        route === 'sync' ? [...packets].reverse() : packets,
      ),
      push: swapPushes(m1, m2),
    });
    await aliceSends(m1, m2);
    await bob.waitFor(() => bob.codes().includes('STREAM_REORDERED'));
    expect(bob.texts()).toEqual(['second', 'first']);
    expect(bob.items[1]).toMatchObject({
      kind: 'packet',
      issue: { code: 'STREAM_REORDERED', seq: end + 1 },
    });
  });

  it('reordering pushes alone is undone: the client fetches the missing one first and shows stream order', async () => {
    const end = await streamEnd();
    const bob = await follow({ seenUpTo: end });
    const [m1, m2] = [seal('first, again'), seal('second, again')];
    world.hostile.behave({
      push: swapPushes(m1, m2),
    });
    await aliceSends(m1, m2);
    await bob.waitFor((items) => items.length >= 2);
    await sleep(100);
    await bob.follower.idle();
    expect(bob.texts()).toEqual(['first, again', 'second, again']);
    expect(bob.codes()).toEqual([]);
  });

  it('LIMIT: a stream whose order was chosen from the start cannot be told from the truth', async () => {
    const end = await streamEnd();
    const [m1, m2] = [seal('sent first'), seal('sent second')];
    await aliceSends(m1, m2);
    // Every page agrees on the lie: the two packets trade places and positions.
    world.hostile.behave(
      rewriteStream(world.bob.identifier, (packets) => {
        const a = packets.find((stored) => stored.packet.id === m1.id);
        const b = packets.find((stored) => stored.packet.id === m2.id);
        if (!a || !b) return packets;
        return packets.map((stored) =>
          stored === a ? { ...b, seq: a.seq } : stored === b ? { ...a, seq: b.seq } : stored,
        );
      }),
    );
    const bob = await follow({ seenUpTo: end });
    await bob.follower.idle();
    expect(bob.texts()).toEqual(['sent second', 'sent first']);
    expect(bob.codes()).toEqual([]);
    // What stays true is each sender's signed time, shown on every line.
    const times = bob.items.map((item) =>
      item.kind === 'packet' ? asPacket(item.stored).packet.time : 0,
    );
    expect(times).toEqual([m2.time, m1.time]);
  });
});

describe('a relay that corrupts a copy', () => {
  it('a corrupted copy sent before the genuine one is refused, and the genuine one is still shown', async () => {
    const end = await streamEnd();
    const bob = await follow({ seenUpTo: end });
    const real = seal('the genuine one');
    world.hostile.behave({
      push(event, payload) {
        const stored = payload as StoredPacket;
        if (event !== 'packet' || stored.packet.id !== real.id) return [payload];
        const corrupted = { ...stored.packet, ct: flipBase64(stored.packet.ct) };
        return [{ ...stored, packet: corrupted }, payload];
      },
    });
    await aliceSends(real);
    await bob.waitFor((items) => items.length >= 2);
    await sleep(300);
    await bob.follower.idle();
    // The first copy is handed over to be verified, and its signature fails there (a red warning).
    expect(bob.items).toHaveLength(2);
    const [corrupted, genuine] = bob.items;
    if (corrupted?.kind !== 'packet' || genuine?.kind !== 'packet') throw new Error('two packets');
    expect(asPacket(corrupted.stored).packet.ct).not.toBe(real.ct);
    expect(() =>
      verifyPacketSignature(asPacket(corrupted.stored).packet, world.alice.keyPair.publicKey),
    ).toThrow(SignatureInvalidError);
    // The forged copy left no trace: the genuine one at the same place is handed over and counts.
    expect(asPacket(genuine.stored).packet.ct).toBe(real.ct);
    expect(bob.guard.seenUpTo).toBe(end + 1);
  });
});

describe('a relay that replays messages', () => {
  it('a packet pushed again as a new message is reported (PACKET_REPLAYED) and shown once', async () => {
    const end = await streamEnd();
    const bob = await follow({ seenUpTo: end });
    const m1 = seal('pay bob 10 euros');
    await aliceSends(m1);
    await bob.waitFor((items) => items.length === 1);
    const original = bob.items[0];
    if (original?.kind !== 'packet') throw new Error('expected the packet');
    for (const conn of world.hostile.connectionsOf(world.bob.identifier)) {
      conn.push('packet', original.stored);
      conn.push('packet', { ...original.stored, seq: end + 2, serverTime: Date.now() });
    }
    await bob.waitFor(() => bob.codes().includes('PACKET_REPLAYED'));
    expect(bob.texts()).toEqual(['pay bob 10 euros']);
    expect(bob.items[1]).toMatchObject({
      kind: 'issue',
      issue: { code: 'PACKET_REPLAYED', seq: end + 2, id: m1.id },
    });
  });

  it('an old packet replayed to a later session is recognised (PACKET_REPLAYED), at its old or a new position', async () => {
    const end = await streamEnd();
    const first = await follow({ seenUpTo: end });
    const m1 = seal('the door code is 4711');
    await aliceSends(m1);
    await first.waitFor((items) => items.length === 1);
    const stored = first.items[0]?.kind === 'packet' ? first.items[0].stored : undefined;
    first.follower.stop();
    const persisted = {
      seenUpTo: first.guard.seenUpTo,
      remembered: first.guard.rememberedPackets(),
    };
    const later = await follow(persisted);
    for (const conn of world.hostile.connectionsOf(world.bob.identifier)) {
      conn.push('packet', stored);
      conn.push('packet', { ...stored, seq: end + 2 });
    }
    await later.waitFor(() => later.codes().length === 2);
    expect(later.codes()).toEqual(['PACKET_REPLAYED', 'PACKET_REPLAYED']);
    expect(later.texts()).toEqual([]);
  });

  it('LIMIT: a packet older than what the device remembers, re-inserted as new, is shown again', async () => {
    const end = await streamEnd();
    const first = await follow({ seenUpTo: end });
    const old = seal('an old message');
    await aliceSends(old);
    await first.waitFor((items) => items.length === 1);
    const stored = first.items[0]?.kind === 'packet' ? first.items[0].stored : undefined;
    first.follower.stop();
    // The device kept its mark but no longer remembers this id (it fell out of the last packets).
    const later = await follow({ seenUpTo: first.guard.seenUpTo, remembered: [] });
    for (const conn of world.hostile.connectionsOf(world.bob.identifier))
      conn.push('packet', { ...stored, seq: end + 2 });
    await later.waitFor((items) => items.length === 1);
    expect(later.texts()).toEqual(['an old message']);
    expect(later.codes()).toEqual([]);
  });
});

describe('a relay that claims positions far ahead of its own pages', () => {
  it('a push at 2^53-1 and a genuine packet pushed at a huge legal position are lies (STREAM_JUMP): nothing moves, and every honest message is shown', async () => {
    const end = await streamEnd();
    const bob = await follow({ seenUpTo: end });
    const bait = seal('bait, relocated far ahead');
    await aliceSends(bait);
    await bob.waitFor((items) => items.length === 1);
    const original = bob.items[0];
    if (original?.kind !== 'packet') throw new Error('expected the bait');
    // A forged packet at 2^53-1, and a genuinely signed one (never stored) at a huge legal position.
    const forged = {
      ...asPacket(original.stored).packet,
      id: flipHex(asPacket(original.stored).packet.id),
    };
    const relocated = seal('genuine, but never at this position');
    for (const conn of world.hostile.connectionsOf(world.bob.identifier)) {
      conn.push('packet', { ...original.stored, seq: Number.MAX_SAFE_INTEGER, packet: forged });
      conn.push('packet', { ...original.stored, seq: end + 1_000_000_000, packet: relocated });
    }
    await bob.waitFor(() => bob.codes().filter((code) => code === 'STREAM_JUMP').length === 2);
    expect(bob.guard.seenUpTo).toBe(end + 1);
    // The relay turns honest: what follows is shown, in order, with no replay warning.
    const honest = [seal('honest one'), seal('honest two')];
    await aliceSends(...honest);
    await bob.waitFor(() => bob.texts().includes('honest two'));
    expect(bob.texts()).toEqual(['bait, relocated far ahead', 'honest one', 'honest two']);
    expect(bob.codes()).toEqual(['STREAM_JUMP', 'STREAM_JUMP']);
    expect(bob.guard.seenUpTo).toBe(end + 3);
    expect(Math.max(...bob.guard.rememberedPackets().map(([seq]) => seq))).toBe(end + 3);
    // A later session from what was persisted sees the stream go on as well.
    bob.follower.stop();
    const later = await follow({
      seenUpTo: bob.guard.seenUpTo,
      remembered: bob.guard.rememberedPackets(),
    });
    await aliceSends(seal('honest three'));
    await later.waitFor(() => later.texts().includes('honest three'));
    expect(later.codes()).toEqual([]);
  });

  it('a sync page that jumps to 2^53-1 does not move the mark, and the honest stream after it is shown', async () => {
    const end = await streamEnd();
    const [m1, m2] = [seal('before the jump'), seal('after the jump')];
    await aliceSends(m1);
    world.hostile.behave(
      rewriteStream(world.bob.identifier, (packets, route) => {
        const last = packets.at(-1);
        if (route !== 'sync' || !last) return packets;
        const other = { ...last.packet, id: flipHex(last.packet.id) };
        return [...packets, { ...last, seq: Number.MAX_SAFE_INTEGER, packet: other }];
      }),
    );
    const bob = await follow({ seenUpTo: end });
    await bob.follower.idle();
    expect(bob.texts()).toEqual(['before the jump']);
    expect(bob.codes()).toEqual(['STREAM_JUMP']);
    expect(bob.guard.seenUpTo).toBe(end + 1);
    world.hostile.behave({});
    await aliceSends(m2);
    await bob.waitFor(() => bob.texts().includes('after the jump'));
    expect(bob.guard.seenUpTo).toBe(end + 2);
  });
});
