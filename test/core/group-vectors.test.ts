import { describe, expect, it } from '@jest/globals';
import {
  bytesToHex,
  encodeBody,
  groupEntryHash,
  groupEntrySigningBytes,
  groupHead,
  groupMetaAad,
  groupPacketAad,
  groupPacketSigningBytes,
  decodeGroupPacketBytes,
  hexToBytes,
  openGroupMessage,
  openGroupMeta,
  parseGroupEntry,
  parseGroupPacket,
  sealGroupMessage,
  sealGroupMeta,
  updateGroupLog,
  type Body,
  type RandomSource,
} from '../../src/core/index.js';
import { computeVectors, readInputs } from '../../scripts/generate-vectors.js';
import { keyringOf } from '../support/groups.js';
import { alice, bob } from '../support/parties.js';
import { readVector } from '../support/vectors.js';

interface EntryVector {
  signingBytes: string;
  hash: string;
  entry: unknown;
}
interface GroupVector {
  inputs: {
    id: string;
    name: string;
    metaKey: string;
    metaIv: string;
    message: { id: string; time: number; messageKey: string; iv: string; body: Body };
  };
  metaBytes: string;
  metaAad: string;
  metaCiphertext: string;
  create: EntryVector;
  setAdmins: EntryVector;
  message: {
    bodyBytes: string;
    aad: string;
    ciphertext: string;
    signingBytes: string;
    packet: unknown;
  };
}

const vector = readVector('group') as GroupVector;
const keyOf = keyringOf([alice, bob]);

/** Hands out the given byte strings in order, as the sealing code asks for randomness. */
function sequence(...hexes: string[]): RandomSource {
  const queue = hexes.map((h) => hexToBytes(h));
  return (length) => {
    const next = queue.shift();
    if (next?.length !== length) throw new Error(`unexpected random(${length})`);
    return next;
  };
}

describe('group vectors (section 16)', () => {
  it('the metadata bytes, AAD and ciphertext are what the independent generator makes', () => {
    const fresh = computeVectors(readInputs())['group'] as GroupVector;
    expect([fresh.metaBytes, fresh.metaAad, fresh.metaCiphertext]).toEqual([
      vector.metaBytes,
      vector.metaAad,
      vector.metaCiphertext,
    ]);
    expect(bytesToHex(groupMetaAad(vector.inputs.id, 0))).toBe(vector.metaAad);
    const { meta } = sealGroupMeta(
      {
        group: vector.inputs.id,
        index: 0,
        meta: { v: 1, name: vector.inputs.name },
        memberKeys: [],
      },
      sequence(vector.inputs.metaKey, vector.inputs.metaIv),
    );
    expect(meta.ct).toBe(vector.metaCiphertext);
  });

  it('entries: signing bytes, hashes, the chain and the name', () => {
    for (const { entry, signingBytes, hash } of [vector.create, vector.setAdmins]) {
      const parsed = parseGroupEntry(entry);
      expect(bytesToHex(groupEntrySigningBytes(parsed))).toBe(signingBytes);
      expect(groupEntryHash(parsed)).toBe(hash);
    }
    const log = updateGroupLog(null, [vector.create.entry, vector.setAdmins.entry], keyOf);
    expect(groupHead(log).admins).toEqual([alice.identifier, bob.identifier].sort());
    expect(groupHead(log).hash).toBe(vector.setAdmins.hash);
    for (const reader of [alice, bob]) {
      const as = { identifier: reader.identifier, privateKey: reader.keyPair.privateKey };
      expect(openGroupMeta(log, as).name).toBe(vector.inputs.name);
    }
  });

  it('message: every deterministic byte, then open as each member', () => {
    const log = updateGroupLog(null, [vector.create.entry, vector.setAdmins.entry], keyOf);
    const packet = parseGroupPacket(vector.message.packet);
    const { inputs } = vector;
    expect(bytesToHex(encodeBody(inputs.message.body))).toBe(vector.message.bodyBytes);
    expect(bytesToHex(groupPacketAad(packet))).toBe(vector.message.aad);
    expect(bytesToHex(groupPacketSigningBytes(packet, decodeGroupPacketBytes(packet)))).toBe(
      vector.message.signingBytes,
    );
    const resealed = sealGroupMessage(
      { sender: bob, log, keyOf, body: inputs.message.body },
      {
        random: sequence(inputs.message.id, inputs.message.messageKey, inputs.message.iv),
        now: () => inputs.message.time,
      },
    );
    const { keys: _k, sig: _s, ...deterministic } = resealed;
    const { keys: _k2, sig: _s2, ...expected } = packet;
    expect(deterministic).toEqual(expected);
    expect(resealed.ct).toBe(vector.message.ciphertext);
    for (const [reader, direction] of [
      [alice, 'incoming'],
      [bob, 'outgoing'],
    ] as const) {
      const opened = openGroupMessage({
        packet: vector.message.packet,
        reader: { identifier: reader.identifier, privateKey: reader.keyPair.privateKey },
        log,
        keyOf,
      });
      expect(opened.body).toEqual(inputs.message.body);
      expect(opened.direction).toBe(direction);
    }
  });
});
