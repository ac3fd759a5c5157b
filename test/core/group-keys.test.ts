import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  addMemberEntry,
  assertGroupNamesMyKey,
  createGroupEntry,
  groupHead,
  groupIdOf,
  groupMemberFingerprint,
  leaveGroupEntry,
  openGroupMessage,
  sealGroupMessage,
  signGroupEntry,
  updateGroupLog,
  type Body,
  type GroupEntry,
  type GroupKeyLookup,
  type GroupLog,
} from '../../src/core/index.js';
import { appended, codeOf, keyringOf, logOf } from '../support/groups.js';
import { alice, bob, newParty, type Party } from '../support/parties.js';

let carol: Party;
let mallory: Party;
let keyOf: GroupKeyLookup;
/** What the relay makes bob's device pin for carol: mallory's key. */
let fooledBob: GroupKeyLookup;
let start: GroupLog;
const text: Body = { v: 1, type: 'text', text: 'secret plan' };
const pinned = (p: Party, key = p.keyPair.publicKey) => ({
  identifier: p.identifier,
  publicKey: key,
});
const reader = (p: Party) => ({ identifier: p.identifier, privateKey: p.keyPair.privateKey });

beforeAll(async () => {
  carol = await newParty('carol');
  mallory = await newParty('mallory');
  keyOf = keyringOf([alice, bob, carol, mallory]);
  const swapped = keyringOf([alice, bob, mallory]);
  fooledBob = (id) => (id === carol.identifier ? mallory.keyPair.publicKey : swapped(id));
  start = logOf([createGroupEntry(alice, [pinned(bob)], 'Trip')], keyOf);
});

describe('group keys in the log', () => {
  it('records the fingerprint of every member key, as the author pinned it', () => {
    const log = appended(start, addMemberEntry(start, alice, pinned(carol), keyOf), keyOf);
    const head = groupHead(log);
    for (const p of [alice, bob, carol]) {
      expect(groupMemberFingerprint(head, p.identifier)).toBe(p.keyPair.publicKey.fingerprint);
    }
    expect(groupMemberFingerprint(head, mallory.identifier)).toBeUndefined();
    const add = log.entries[1]?.entry;
    expect(add?.op === 'add' && add.fingerprint).toBe(carol.keyPair.publicKey.fingerprint);
  });

  it('blocks a send for a member whose key differs from the logged one, naming that member', () => {
    const log = appended(start, addMemberEntry(start, alice, pinned(carol), keyOf), keyOf);
    // Bob's device verifies the same log (the add is alice's), but holds the relay's key for carol.
    const bobsLog = updateGroupLog(
      null,
      [start.entries[0]?.entry, log.entries[1]?.entry],
      fooledBob,
      log.group,
    );
    expect(groupHead(bobsLog).hash).toBe(groupHead(log).hash);
    const refused = () =>
      sealGroupMessage({ sender: bob, log: bobsLog, keyOf: fooledBob, body: text });
    expect(codeOf(refused)).toBe('GROUP_KEY_MISMATCH');
    expect(() => refused()).toThrow(carol.identifier.slice(0, 16));
    // A message the relay signs as carol with the key it gave bob (its own view of the log) is refused.
    const forged = sealGroupMessage({
      sender: { identifier: carol.identifier, keyPair: mallory.keyPair },
      log: {
        ...bobsLog,
        entries: bobsLog.entries.map((e) => ({
          ...e,
          fingerprints: e.members.map((id) => fooledBob(id).fingerprint),
        })),
      },
      keyOf: fooledBob,
      body: text,
    });
    expect(
      codeOf(() =>
        openGroupMessage({ packet: forged, reader: reader(bob), log: bobsLog, keyOf: fooledBob }),
      ),
    ).toBe('GROUP_KEY_MISMATCH');
  });

  it('lets a newcomer see that its add names another key, and refuses its entries under it', () => {
    // Alice was given mallory's key for carol.
    const fooledAlice: GroupKeyLookup = (id) =>
      id === carol.identifier ? mallory.keyPair.publicKey : keyOf(id);
    const log = appended(
      start,
      addMemberEntry(start, alice, pinned(carol, mallory.keyPair.publicKey), fooledAlice),
      fooledAlice,
    );
    const mine = { identifier: carol.identifier, publicKey: carol.keyPair.publicKey };
    expect(codeOf(() => assertGroupNamesMyKey(groupHead(log), mine))).toBe('GROUP_KEY_MISMATCH');
    expect(codeOf(() => sealGroupMessage({ sender: carol, log, keyOf, body: text }))).toBe(
      'GROUP_KEY_MISMATCH',
    );
    expect(() => assertGroupNamesMyKey(groupHead(start), pinned(bob))).not.toThrow();
    // Carol's own client refuses to sign under a key the log does not name for her...
    expect(codeOf(() => leaveGroupEntry(log, carol, keyOf))).toBe('GROUP_KEY_MISMATCH');
    // ...and an entry she signs with her real key is refused by whoever pinned that key.
    const head = groupHead(log);
    const leave = signGroupEntry(carol.keyPair.privateKey, {
      v: 1,
      group: head.group,
      index: head.index + 1,
      prev: head.hash,
      author: carol.identifier,
      time: 1,
      op: 'leave',
    });
    expect(codeOf(() => appended(log, leave, keyOf))).toBe('GROUP_KEY_MISMATCH');
  });
});

describe('group id', () => {
  it('is derived from the creator and the nonce of the create entry', () => {
    const create = start.entries[0]?.entry as Extract<GroupEntry, { op: 'create' }>;
    expect(create.group).toBe(groupIdOf(alice.identifier, create.nonce));
    expect(create.nonce).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses another creator's create under an existing group id (squatting)", () => {
    const real = start.entries[0]?.entry as Extract<GroupEntry, { op: 'create' }>;
    const own = createGroupEntry(mallory, [pinned(alice), pinned(bob)], 'Trip');
    const { sig: _sig, ...fields } = own as Extract<GroupEntry, { op: 'create' }>;
    const squat = signGroupEntry(mallory.keyPair.privateKey, { ...fields, group: real.group });
    expect(codeOf(() => logOf([squat], keyOf))).toBe('GROUP_CHAIN_BROKEN');
    // Another nonce from the same creator is another group.
    const { sig: _s2, ...realFields } = real;
    const renonced = signGroupEntry(alice.keyPair.privateKey, {
      ...realFields,
      nonce: 'ab'.repeat(32),
    });
    expect(codeOf(() => logOf([renonced], keyOf))).toBe('GROUP_CHAIN_BROKEN');
  });

  it('holds a first fetch to the group asked for', () => {
    const other = createGroupEntry(mallory, [pinned(bob)], 'Other');
    expect(codeOf(() => updateGroupLog(null, [other], keyOf, start.group))).toBe(
      'GROUP_CHAIN_BROKEN',
    );
    expect(codeOf(() => updateGroupLog(start, [other], keyOf, start.group))).toBe('GROUP_FORKED');
    expect(codeOf(() => updateGroupLog(start, [], keyOf, other.group))).toBe('GROUP_FORKED');
    expect(updateGroupLog(null, [start.entries[0]?.entry], keyOf, start.group).group).toBe(
      start.group,
    );
  });

  it('refuses a create whose fingerprints do not match its members one for one', () => {
    const real = start.entries[0]?.entry as Extract<GroupEntry, { op: 'create' }>;
    const { sig: _sig, ...fields } = real;
    const short = signGroupEntry(alice.keyPair.privateKey, {
      ...fields,
      fingerprints: fields.fingerprints.slice(0, 1),
    });
    expect(codeOf(() => logOf([short], keyOf))).toBe('GROUP_MEMBERSHIP_INVALID');
  });
});
