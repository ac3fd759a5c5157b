import { describe, expect, it } from '@jest/globals';
import * as parser from 'socket.io-parser';
import { parsePacket, sealPacket, type Packet } from '../../src/core/index.js';
import {
  EncodedJson,
  preEncodingParser,
  streamRecordJson,
} from '../../src/daemon/push-encoding.js';
import { alice, bob } from '../support/parties.js';

/** A packet as the relay holds it: sealed, sent as JSON, parsed. */
function received(text: string): Packet {
  const sealed = sealPacket({
    sender: { identifier: alice.identifier, keyPair: alice.keyPair },
    recipient: { identifier: bob.identifier, publicKey: bob.keyPair.publicKey },
    body: { v: 1, type: 'text', text },
  });
  return parsePacket(JSON.parse(JSON.stringify(sealed)));
}

const standard = new parser.Encoder();
const relay = new preEncodingParser.Encoder();

function event(data: unknown[], extra: Partial<parser.Packet> = {}): parser.Packet {
  return { type: parser.PacketType.EVENT, nsp: '/', data, ...extra };
}

describe('a push encoded from the packet JSON the store wrote', () => {
  const packet = received('pushed once, encoded once');
  const json = JSON.stringify(packet);

  it.each([
    ['the recipient’s view', undefined],
    ['the sender’s view, delivered', true],
    ['the sender’s view, not delivered yet', false],
  ])('is the default encoding of %s, byte for byte', (_what, delivered) => {
    const view =
      delivered === undefined
        ? { seq: 7, serverTime: 1_764_000_000_123, packet }
        : { seq: 7, serverTime: 1_764_000_000_123, packet, delivered };
    const expected = standard.encode(event(['packet', view]));
    const got = relay.encode(
      event(['packet', streamRecordJson(7, 1_764_000_000_123, json, delivered)]),
    );
    expect(got).toEqual(expected);
    // What a client decodes from it, with the default decoder it keeps.
    const decoder = new preEncodingParser.Decoder();
    const decoded: unknown[] = [];
    decoder.on('decoded', (p: parser.Packet) => decoded.push(p.data));
    decoder.add(got[0] as string);
    expect(decoded).toEqual([['packet', view]]);
  });

  it('leaves every other packet to the default encoder (acks, namespaces, several arguments, binary)', () => {
    const others: parser.Packet[] = [
      event(['packet', { seq: 1, serverTime: 2, packet }]),
      event(['packet', new EncodedJson('{"seq":1}')], { id: 3 }),
      event(['packet', new EncodedJson('{"seq":1}')], { nsp: '/other' }),
      event(['packet', new EncodedJson('{"seq":1}'), 'more']),
      event(['packet', Buffer.from('binary')]),
      { type: parser.PacketType.ACK, nsp: '/', id: 4, data: [{ ok: true, seq: 1 }] },
    ];
    for (const packetOf of others) {
      expect(relay.encode(packetOf)).toEqual(standard.encode(packetOf));
    }
  });
});
