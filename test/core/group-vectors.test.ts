import { describe, expect, it } from '@jest/globals';
import {
  bytesToHex,
  encodeBody,
  groupEntryHash,
  groupEntrySigningBytes,
  groupHead,
  groupIdOf,
  groupMemberFingerprint,
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
    nonce: string;
    name: string;
    renameName: string;
    metaKey: string;
    metaIv: string;
    message: { id: string; time: number; messageKey: string; iv: string; body: Body };
  };
  id: string;
  metaBytes: string;
  metaAad: string;
  metaCiphertext: string;
  create: EntryVector;
  setAdmins: EntryVector;
  remove: EntryVector;
  add: EntryVector;
  rename: EntryVector;
  leave: EntryVector;
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
    expect(fresh.id).toBe(vector.id);
    expect(groupIdOf(alice.identifier, vector.inputs.nonce)).toBe(vector.id);
    expect(bytesToHex(groupMetaAad(vector.id, 0))).toBe(vector.metaAad);
    const { meta } = sealGroupMeta(
      {
        group: vector.id,
        index: 0,
        meta: { v: 1, name: vector.inputs.name },
        memberKeys: [],
      },
      sequence(vector.inputs.metaKey, vector.inputs.metaIv),
    );
    expect(meta.ct).toBe(vector.metaCiphertext);
  });

  it('entries of every kind: signing bytes, hashes, the chain, the keys it names and the name', () => {
    const chain = [
      vector.create,
      vector.setAdmins,
      vector.remove,
      vector.add,
      vector.rename,
      vector.leave,
    ];
    expect(chain.map((v) => parseGroupEntry(v.entry).op)).toEqual([
      'create',
      'set-admins',
      'remove',
      'add',
      'rename',
      'leave',
    ]);
    for (const { entry, signingBytes, hash } of chain) {
      const parsed = parseGroupEntry(entry);
      expect(bytesToHex(groupEntrySigningBytes(parsed))).toBe(signingBytes);
      expect(groupEntryHash(parsed)).toBe(hash);
    }
    const whole = updateGroupLog(
      null,
      chain.map((v) => v.entry),
      keyOf,
      vector.id,
    );
    expect(groupHead(whole).members).toEqual([alice.identifier]);
    expect(groupHead(whole).fingerprints).toEqual([alice.keyPair.publicKey.fingerprint]);
    const renamed = { ...whole, entries: whole.entries.slice(0, 5) };
    expect(groupMemberFingerprint(groupHead(renamed), bob.identifier)).toBe(
      bob.keyPair.publicKey.fingerprint,
    );
    for (const reader of [alice, bob]) {
      const as = { identifier: reader.identifier, privateKey: reader.keyPair.privateKey };
      expect(openGroupMeta(renamed, as).name).toBe(vector.inputs.renameName);
    }
    const log = updateGroupLog(
      null,
      [vector.create.entry, vector.setAdmins.entry],
      keyOf,
      vector.id,
    );
    expect(groupHead(log).admins).toEqual([alice.identifier, bob.identifier].sort());
    expect(groupHead(log).hash).toBe(vector.setAdmins.hash);
    for (const reader of [alice, bob]) {
      const as = { identifier: reader.identifier, privateKey: reader.keyPair.privateKey };
      expect(openGroupMeta(log, as).name).toBe(vector.inputs.name);
    }
  });

  it('message: every deterministic byte, then open as each member', () => {
    const log = updateGroupLog(
      null,
      [vector.create.entry, vector.setAdmins.entry],
      keyOf,
      vector.id,
    );
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
