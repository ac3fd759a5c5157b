import { base64ToBytes, bytesToBase64, type Packet } from '../../src/core/index.js';
import {
  authenticate,
  resigned,
  textPacket,
  unregisteredIdentifier,
  type Behaviour,
  type Fixture,
} from './fixtures.js';
import { check, expectCode, expectOk, Violation, type Wire } from './wire.js';

/** Every record of a connection's stream, page by page (bounded: at most 20 pages). */
export async function wholeStream(wire: Wire): Promise<Record<string, unknown>[]> {
  const records: Record<string, unknown>[] = [];
  for (let page = 0; page < 20; page++) {
    const after = (records.at(-1)?.['seq'] as number | undefined) ?? 0;
    const result = expectOk(await wire.request('sync', { after, limit: 500 }), 'sync');
    records.push(...(result['packets'] as Record<string, unknown>[]));
    if (result['more'] !== true) return records;
  }
  throw new Violation('the stream did not end within 20 pages of 500');
}

/** Sends a packet and returns the acknowledgement's result. */
export async function sent(
  wire: Wire,
  packet: Packet,
): Promise<{ seq: number; duplicate: boolean }> {
  const result = expectOk(await wire.request('send', packet), 'send');
  const { seq, serverTime, duplicate } = result;
  check(
    Object.keys(result).sort().join() === 'duplicate,seq,serverTime' &&
      Number.isSafeInteger(seq) &&
      Number.isSafeInteger(serverTime) &&
      typeof duplicate === 'boolean',
    'the send result is not {seq, serverTime, duplicate}',
  );
  return { seq: seq as number, duplicate: duplicate };
}

function flipped(base64: string): string {
  const bytes = base64ToBytes(base64);
  bytes[7] = (bytes[7] ?? 0) ^ 1;
  return bytesToBase64(bytes);
}

async function refusesSends(f: Fixture, cases: Record<string, [unknown, string]>): Promise<void> {
  const wrong: string[] = [];
  for (const [name, [packet, code]] of Object.entries(cases)) {
    const answer = await f.aliceWire.request('send', packet);
    const got = answer.ok ? 'accepted' : answer.code;
    if (got !== code) wrong.push(`${name}: ${got}, expected ${code}`);
  }
  if (wrong.length > 0) throw new Violation(wrong.join('; '));
}

/** `send` and its refusals (sections 7.1, 10.1). */
export const SEND_BEHAVIOURS: readonly Behaviour[] = [
  {
    id: 'send-ok',
    section: '10.1',
    says: "acknowledges a packet with {seq, serverTime, duplicate: false}, seq the next place in the sender's stream",
    run: async (f) => {
      const before = (await wholeStream(f.aliceWire)).length;
      const ack = await sent(f.aliceWire, textPacket(f.alice, f.bob, 'hello Bob'));
      check(!ack.duplicate, 'a new packet was acknowledged as a duplicate');
      check(ack.seq === before + 1, `seq ${ack.seq}, expected ${before + 1}`);
    },
  },
  {
    id: 'send-duplicate',
    section: '10.1',
    says: 'acknowledges a resend by the same sender again with the original seq and duplicate: true',
    run: async (f) => {
      const packet = textPacket(f.alice, f.bob, 'sent twice');
      const first = await sent(f.aliceWire, packet);
      const again = await sent(f.aliceWire, packet);
      check(
        again.duplicate && again.seq === first.seq,
        'the resend was not the same place, duplicate',
      );
      const copies = (await wholeStream(f.bobWire)).filter(
        (r) => (r['packet'] as Packet).id === packet.id,
      );
      check(copies.length === 1, `the recipient's stream holds the packet ${copies.length} times`);
    },
  },
  {
    id: 'send-forbidden-sender',
    section: '10.1',
    says: "refuses a packet whose from is not the connection's identifier with FORBIDDEN_SENDER",
    run: async (f) => {
      expectCode(
        await f.bobWire.request('send', textPacket(f.alice, f.bob, 'not from Bob')),
        'FORBIDDEN_SENDER',
        'send as somebody else',
      );
    },
  },
  {
    id: 'send-unknown-recipient',
    section: '10.1',
    says: 'refuses a packet to an unregistered identifier with UNKNOWN_IDENTIFIER',
    run: async (f) => {
      const packet = resigned(
        { ...textPacket(f.alice, f.bob, 'to nobody'), to: unregisteredIdentifier() },
        f.alice,
      );
      expectCode(await f.aliceWire.request('send', packet), 'UNKNOWN_IDENTIFIER', 'send to nobody');
    },
  },
  {
    id: 'send-signature',
    section: '10.1',
    says: "refuses a packet whose signature does not verify under the sender's key with SIGNATURE_INVALID",
    run: async (f) => {
      const packet = textPacket(f.alice, f.bob, 'tampered');
      await refusesSends(f, {
        'flipped signature': [{ ...packet, sig: flipped(packet.sig) }, 'SIGNATURE_INVALID'],
        'flipped ct': [{ ...packet, ct: flipped(packet.ct) }, 'SIGNATURE_INVALID'],
        'changed time': [{ ...packet, time: packet.time + 1 }, 'SIGNATURE_INVALID'],
        "signed by Bob's key": [resigned(packet, f.bob), 'SIGNATURE_INVALID'],
      });
    },
  },
  {
    id: 'send-id-taken',
    section: '10.1',
    says: 'refuses a known packet id from another sender, or with other content, with PACKET_ID_TAKEN',
    run: async (f) => {
      const original = textPacket(f.alice, f.bob, 'original');
      await sent(f.aliceWire, original);
      const byBob = resigned({ ...textPacket(f.bob, f.alice, 'copy'), id: original.id }, f.bob);
      expectCode(await f.bobWire.request('send', byBob), 'PACKET_ID_TAKEN', 'id of another sender');
      const changed = resigned(
        { ...textPacket(f.alice, f.bob, 'other'), id: original.id },
        f.alice,
      );
      expectCode(await f.aliceWire.request('send', changed), 'PACKET_ID_TAKEN', 'other content');
    },
  },
  {
    id: 'send-shape',
    section: '7.1, 1',
    says: 'refuses v 2 (UNSUPPORTED_VERSION), extra fields (MALFORMED_INPUT), long ct (OVERSIZE), bad base64 (MALFORMED_ENCODING)',
    run: async (f) => {
      const packet = textPacket(f.alice, f.bob, 'shape');
      await refusesSends(f, {
        'v 2': [{ ...packet, v: 2 }, 'UNSUPPORTED_VERSION'],
        'extra field': [{ ...packet, extra: 1 }, 'MALFORMED_INPUT'],
        'missing sig': [{ ...packet, sig: undefined }, 'MALFORMED_INPUT'],
        'string time': [{ ...packet, time: String(packet.time) }, 'MALFORMED_INPUT'],
        'iv of 11 bytes': [{ ...packet, iv: bytesToBase64(new Uint8Array(11)) }, 'MALFORMED_INPUT'],
        'id of 31 digits': [{ ...packet, id: packet.id.slice(1) }, 'MALFORMED_INPUT'],
        'id of 33 digits': [{ ...packet, id: `${packet.id}0` }, 'OVERSIZE'],
        'ct over 40,976 bytes': [{ ...packet, ct: 'A'.repeat(54_640) }, 'OVERSIZE'],
        'unpadded sig': [{ ...packet, sig: packet.sig.replace(/=+$/, '') }, 'MALFORMED_ENCODING'],
        'uppercase id': [{ ...packet, id: packet.id.toUpperCase() }, 'MALFORMED_ENCODING'],
      });
    },
  },
  {
    id: 'push-on-send',
    section: '10.2',
    says: "pushes a stored packet to the recipient ({seq, serverTime, packet}, its seq) and to the sender's other connections (delivered: false, in a two-way conversation)",
    run: async (f) => {
      // delivered is only shown in a two-way conversation: make sure Bob has written to Alice.
      await sent(f.bobWire, textPacket(f.bob, f.alice, 'two-way'));
      const other = await f.connect();
      await authenticate(other, f.alice);
      const fromBob = f.bobWire.pushes.length;
      const fromOther = other.pushes.length;
      const packet = textPacket(f.alice, f.bob, 'pushed');
      const ack = await sent(f.aliceWire, packet);
      const isIt = (p: unknown) => (p as { packet?: Packet }).packet?.id === packet.id;
      const atBob = (await f.bobWire.push('packet', isIt, 5000, fromBob)) as Record<
        string,
        unknown
      >;
      check(
        Object.keys(atBob).sort().join() === 'packet,seq,serverTime',
        "the recipient's push is not exactly {seq, serverTime, packet}",
      );
      const bobStream = await wholeStream(f.bobWire);
      const place = bobStream.find((r) => (r['packet'] as Packet).id === packet.id)?.['seq'];
      check(atBob['seq'] === place, "the recipient's push does not carry the recipient's seq");
      const atOther = (await other.push('packet', isIt, 5000, fromOther)) as Record<
        string,
        unknown
      >;
      check(
        atOther['seq'] === ack.seq && atOther['delivered'] === false,
        "the sender's other connection got no {seq: sender's, delivered: false}",
      );
    },
  },
];
