import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  addMemberEntry,
  bytesToBase64,
  createGroupEntry,
  groupHead,
  leaveGroupEntry,
  MAX_GROUP_CT_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_PACKET_BYTES,
  openGroupMessage,
  parseGroupPacket,
  removeMemberEntry,
  sealGroupMessage,
  type Body,
  type GroupKeyLookup,
  type GroupLog,
} from '../../src/core/index.js';
import { appended, codeOf, fillers, keyringOf, logOf, prefixOf } from '../support/groups.js';
import { alice, bob, newParty, type Party } from '../support/parties.js';

let carol: Party;
let dave: Party;
let keyOf: GroupKeyLookup;
/** Alice (admin), bob and carol at entry 1. */
let three: GroupLog;
const text = (t: string): Body => ({ v: 1, type: 'text', text: t });
const pinned = (p: Party) => ({ identifier: p.identifier, publicKey: p.keyPair.publicKey });
const reader = (p: Party) => ({ identifier: p.identifier, privateKey: p.keyPair.privateKey });
const seal = (sender: Party, log: GroupLog, body = text('hello group')) =>
  sealGroupMessage({ sender, log, keyOf, body });
const open = (packet: unknown, as: Party, log: GroupLog) =>
  openGroupMessage({ packet, reader: reader(as), log, keyOf });

beforeAll(async () => {
  carol = await newParty('carol');
  dave = await newParty('dave');
  keyOf = keyringOf([alice, bob, carol, dave]);
  const start = logOf([createGroupEntry(alice, [pinned(bob)], 'Trip')], keyOf);
  three = appended(start, addMemberEntry(start, alice, pinned(carol), keyOf), keyOf);
});

/** A log as a lying client might hold it: its own view of the members at every entry. */
function claiming(log: GroupLog, members: (m: readonly string[]) => string[]): GroupLog {
  const claim = (m: readonly string[]) => {
    const list = members(m);
    return { members: list, fingerprints: list.map((id) => keyOf(id).fingerprint) };
  };
  return { ...log, entries: log.entries.map((e) => ({ ...e, ...claim(e.members) })) };
}

describe('group message', () => {
  it('opens for every member, the sender included, with one ciphertext and a key each', () => {
    const packet = seal(bob, three);
    expect(packet.keys).toHaveLength(3);
    expect(packet.headIndex).toBe(1);
    expect(packet.head).toBe(groupHead(three).hash);
    for (const member of [alice, carol]) {
      const opened = open(packet, member, three);
      expect(opened.body).toEqual(text('hello group'));
      expect(opened.direction).toBe('incoming');
      expect(opened.current).toBe(true);
      expect(opened.formerMembers).toEqual([]);
    }
    expect(open(packet, bob, three).direction).toBe('outgoing');
    expect(
      open(seal(bob, three, { v: 1, type: 'hello', username: 'bob' }), alice, three).body,
    ).toEqual({ v: 1, type: 'hello', username: 'bob' });
  });

  it('says when a message was encrypted for an older head, and who it reached that is gone', () => {
    const removed = appended(
      three,
      removeMemberEntry(three, alice, carol.identifier, keyOf),
      keyOf,
    );
    const stale = seal(bob, three);
    const opened = open(stale, alice, removed);
    expect(opened.current).toBe(false);
    expect(opened.head.index).toBe(1);
    expect(opened.formerMembers).toEqual([carol.identifier]);
    const start = prefixOf(three, 1, keyOf);
    expect(open(seal(bob, start), alice, three).newMembers).toEqual([carol.identifier]);
  });

  it('refuses a message from a removed or departed member that names a head before it went', () => {
    const removed = appended(
      three,
      removeMemberEntry(three, alice, carol.identifier, keyOf),
      keyOf,
    );
    // Carol signs for entry 1, where she was a member: every reader at entry 2 refuses it.
    const late = seal(carol, three, text('I was removed, yet here I am'));
    for (const member of [alice, bob]) {
      expect(codeOf(() => open(late, member, removed))).toBe('GROUP_SENDER_REMOVED');
    }
    const left = appended(three, leaveGroupEntry(three, bob, keyOf), keyOf);
    expect(codeOf(() => open(seal(bob, three), alice, left))).toBe('GROUP_SENDER_REMOVED');
    // A reader that has not verified the removal yet still opens it (and learns of the removal later).
    expect(open(late, alice, three).body).toEqual(text('I was removed, yet here I am'));
  });

  it('refuses a head it has not verified (fetch first), and a head that differs from its own (a fork)', () => {
    const start = prefixOf(three, 1, keyOf);
    expect(codeOf(() => open(seal(bob, three), alice, start))).toBe('GROUP_HEAD_UNKNOWN');
    const forked = appended(start, addMemberEntry(start, alice, pinned(dave), keyOf), keyOf);
    expect(codeOf(() => open(seal(bob, forked), carol, three))).toBe('GROUP_FORKED');
    const elsewhere = logOf([createGroupEntry(alice, [pinned(bob)], 'Other')], keyOf);
    expect(codeOf(() => open(seal(bob, elsewhere), alice, three))).toBe('GROUP_HEAD_UNKNOWN');
  });

  it('refuses a message from a non-member, and one that misses a member', () => {
    const withDave = claiming(three, (m) => [...m, dave.identifier].sort());
    expect(codeOf(() => open(seal(dave, withDave), alice, three))).toBe('GROUP_NOT_MEMBER');
    const withoutCarol = claiming(three, (m) => m.filter((x) => x !== carol.identifier));
    expect(codeOf(() => open(seal(bob, withoutCarol), alice, three))).toBe(
      'GROUP_MEMBERSHIP_INVALID',
    );
    expect(codeOf(() => seal(dave, three))).toBe('GROUP_NOT_MEMBER');
  });

  it('refuses anything the relay altered, and tells a reader it was not encrypted for', () => {
    const packet = seal(bob, three);
    const other = seal(bob, three, text('another'));
    expect(codeOf(() => open({ ...packet, ct: other.ct }, alice, three))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => open({ ...packet, keys: other.keys }, alice, three))).toBe(
      'SIGNATURE_INVALID',
    );
    expect(codeOf(() => open({ ...packet, from: alice.identifier }, alice, three))).toBe(
      'SIGNATURE_INVALID',
    );
    expect(codeOf(() => open({ ...packet, headIndex: 0 }, alice, three))).toBe('SIGNATURE_INVALID');
    const start = prefixOf(three, 1, keyOf);
    expect(codeOf(() => open(seal(bob, start), carol, three))).toBe('NOT_ADDRESSED_TO_ME');
    expect(codeOf(() => parseGroupPacket({ ...packet, v: 2 }))).toBe('UNSUPPORTED_VERSION');
    expect(codeOf(() => parseGroupPacket({ ...packet, to: bob.identifier }))).toBe(
      'MALFORMED_INPUT',
    );
  });

  it(`fits ${MAX_GROUP_MEMBERS} members and the largest body in one packet`, () => {
    const shared = bob.keyPair.publicKey;
    const lookup: GroupKeyLookup = (id) =>
      id === alice.identifier ? alice.keyPair.publicKey : shared;
    const full = logOf(
      [createGroupEntry(alice, fillers(MAX_GROUP_MEMBERS - 1, shared), 'Big')],
      lookup,
    );
    const packet = sealGroupMessage({ sender: alice, log: full, keyOf: lookup, body: text('x') });
    expect(packet.keys).toHaveLength(MAX_GROUP_MEMBERS);
    const largest = {
      ...packet,
      headIndex: Number.MAX_SAFE_INTEGER,
      time: Number.MAX_SAFE_INTEGER,
      ct: bytesToBase64(new Uint8Array(MAX_GROUP_CT_BYTES)),
    };
    expect(parseGroupPacket(largest).keys).toHaveLength(MAX_GROUP_MEMBERS);
    const size = JSON.stringify(largest).length;
    expect(size).toBeLessThanOrEqual(MAX_PACKET_BYTES);
    // The margin left is under ten more keys: the member bound comes from the packet bound.
    expect(Math.floor((MAX_PACKET_BYTES - size) / 347)).toBeLessThan(10);
    expect(
      codeOf(() => parseGroupPacket({ ...largest, keys: [...largest.keys, packet.sig] })),
    ).toBe('OVERSIZE');
    expect(
      codeOf(() =>
        sealGroupMessage({
          sender: alice,
          log: full,
          keyOf: lookup,
          body: text('\n'.repeat(16_000)),
        }),
      ),
    ).toBe('OVERSIZE');
  });
});
