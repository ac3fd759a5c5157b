import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  addMemberEntry,
  applyGroupEntry,
  bytesToBase64,
  createGroupEntry,
  groupEntryHash,
  groupEntrySigningBytes,
  groupEntrySize,
  groupHead,
  groupLogFetchFrom,
  leaveGroupEntry,
  MAX_GROUP_LOG_BYTES,
  MAX_GROUP_LOG_PAGE_ENTRIES,
  MAX_GROUP_MEMBERS,
  MAX_PACKET_BYTES,
  openGroupMeta,
  parseGroupEntry,
  removeMemberEntry,
  renameGroupEntry,
  setAdminsEntry,
  signGroupEntry,
  updateGroupLog,
  type GroupEntry,
  type GroupKeyLookup,
  type GroupLog,
} from '../../src/core/index.js';
import { appended, codeOf, fillers, keyringOf, logOf, prefixOf } from '../support/groups.js';
import { alice, bob, newParty, type Party } from '../support/parties.js';

let carol: Party;
let dave: Party;
let keyOf: GroupKeyLookup;
const pinned = (p: Party) => ({ identifier: p.identifier, publicKey: p.keyPair.publicKey });
const ids = (...parties: Party[]) => parties.map((p) => p.identifier).sort();
const reader = (p: Party) => ({ identifier: p.identifier, privateKey: p.keyPair.privateKey });
const entries = (log: GroupLog) => log.entries.map((e) => e.entry);

beforeAll(async () => {
  carol = await newParty('carol');
  dave = await newParty('dave');
  keyOf = keyringOf([alice, bob, carol, dave]);
});

function startLog(): GroupLog {
  return logOf([createGroupEntry(alice, [pinned(bob)], 'Trip')], keyOf);
}

/** Re-signs an entry as `author` after changing it: what a member (not the relay) could make. */
function resigned(entry: GroupEntry, author: Party, change: Partial<GroupEntry>): GroupEntry {
  const { sig: _sig, ...rest } = { ...entry, ...change, author: author.identifier } as GroupEntry;
  return signGroupEntry(author.keyPair.privateKey, rest);
}

describe('group log', () => {
  it('tracks members, admins and the name through every kind of entry', () => {
    let log = startLog();
    expect(groupHead(log).members).toEqual(ids(alice, bob));
    expect(groupHead(log).admins).toEqual([alice.identifier]);
    expect(openGroupMeta(log, reader(bob)).name).toBe('Trip');
    log = appended(log, addMemberEntry(log, alice, pinned(carol), keyOf), keyOf);
    expect(groupHead(log).members).toEqual(ids(alice, bob, carol));
    expect(openGroupMeta(log, reader(carol)).name).toBe('Trip');
    log = appended(
      log,
      setAdminsEntry(log, alice, [carol.identifier, alice.identifier], keyOf),
      keyOf,
    );
    expect(groupHead(log).admins).toEqual(ids(alice, carol));
    log = appended(log, removeMemberEntry(log, carol, bob.identifier, keyOf), keyOf);
    expect(groupHead(log).members).toEqual(ids(alice, carol));
    log = appended(log, renameGroupEntry(log, carol, 'Trip 2027 ✈', keyOf), keyOf);
    expect(openGroupMeta(log, reader(alice)).name).toBe('Trip 2027 ✈');
    expect(codeOf(() => openGroupMeta(log, reader(bob)))).toBe('GROUP_NOT_MEMBER');
    log = appended(log, leaveGroupEntry(log, alice, keyOf), keyOf);
    expect(groupHead(log).members).toEqual([carol.identifier]);
    expect(groupHead(log).admins).toEqual([carol.identifier]);
    expect(log.entries.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log.entries[3]?.members).toEqual(ids(alice, carol));
    // A fresh device verifies the same chain from the start.
    expect(logOf(entries(log), keyOf).entries.map((e) => e.hash)).toEqual(
      log.entries.map((e) => e.hash),
    );
  });

  it('refuses a broken chain: a wrong previous hash, another group, a gap or a second create', () => {
    const log = startLog();
    const next = addMemberEntry(log, alice, pinned(carol), keyOf);
    const create = entries(log)[0] as GroupEntry;
    expect(
      codeOf(() => logOf([create, resigned(next, alice, { prev: '11'.repeat(32) })], keyOf)),
    ).toBe('GROUP_CHAIN_BROKEN');
    expect(
      codeOf(() => logOf([create, resigned(next, alice, { group: 'ab'.repeat(32) })], keyOf)),
    ).toBe('GROUP_CHAIN_BROKEN');
    expect(codeOf(() => logOf([create, resigned(next, alice, { index: 2 })], keyOf))).toBe(
      'GROUP_CHAIN_BROKEN',
    );
    expect(codeOf(() => logOf([next], keyOf))).toBe('GROUP_CHAIN_BROKEN');
    expect(codeOf(() => logOf([], keyOf))).toBe('GROUP_CHAIN_BROKEN');
    expect(
      codeOf(() => updateGroupLog(log, [resigned(next, alice, { index: 2 })], keyOf, log.group)),
    ).toBe('GROUP_CHAIN_BROKEN');
  });

  it('refuses an entry the relay altered (SIGNATURE_INVALID), before any rule', () => {
    const log = startLog();
    const add = addMemberEntry(log, alice, pinned(carol), keyOf);
    expect(codeOf(() => appended(log, { ...add, member: dave.identifier }, keyOf))).toBe(
      'SIGNATURE_INVALID',
    );
    expect(codeOf(() => appended(log, { ...add, author: bob.identifier }, keyOf))).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('detects a fork: an entry, or the entry after the head, that differs from what was verified', () => {
    const log = startLog();
    const mine = appended(log, addMemberEntry(log, alice, pinned(carol), keyOf), keyOf);
    const theirs = appended(log, addMemberEntry(log, alice, pinned(dave), keyOf), keyOf);
    const after = appended(theirs, leaveGroupEntry(theirs, bob, keyOf), keyOf);
    expect(codeOf(() => updateGroupLog(mine, entries(theirs), keyOf, mine.group))).toBe(
      'GROUP_FORKED',
    );
    expect(codeOf(() => updateGroupLog(mine, entries(after).slice(2), keyOf, mine.group))).toBe(
      'GROUP_FORKED',
    );
    const other = startLog();
    expect(codeOf(() => updateGroupLog(mine, entries(other), keyOf, mine.group))).toBe(
      'GROUP_FORKED',
    );
  });

  it('detects a rollback: a log that ends before the verified head, or nothing at all', () => {
    const log = startLog();
    const grown = appended(log, addMemberEntry(log, alice, pinned(carol), keyOf), keyOf);
    const removed = appended(
      grown,
      removeMemberEntry(grown, alice, carol.identifier, keyOf),
      keyOf,
    );
    expect(codeOf(() => updateGroupLog(removed, entries(grown), keyOf, removed.group))).toBe(
      'GROUP_ROLLBACK',
    );
    expect(
      codeOf(() => updateGroupLog(removed, entries(grown).slice(1), keyOf, removed.group)),
    ).toBe('GROUP_ROLLBACK');
    expect(codeOf(() => updateGroupLog(removed, [], keyOf, removed.group))).toBe('GROUP_ROLLBACK');
    // The same log again, whole or from the head, is no change.
    expect(updateGroupLog(removed, entries(removed), keyOf, removed.group).entries).toHaveLength(3);
    expect(
      updateGroupLog(removed, entries(removed).slice(2), keyOf, removed.group).entries,
    ).toHaveLength(3);
  });

  it('pages a log longer than one page from the device head, and only a short page is a rollback', () => {
    const total = MAX_GROUP_LOG_PAGE_ENTRIES + 44;
    let log = startLog();
    while (log.entries.length < total) {
      log = appended(log, setAdminsEntry(log, alice, [alice.identifier], keyOf), keyOf);
    }
    const all = entries(log);
    /** An honest relay: one page from the place asked. */
    const page = (from: number) => all.slice(from, from + MAX_GROUP_LOG_PAGE_ENTRIES);
    const fetchAll = (start: GroupLog | null) => {
      let have = start;
      for (let round = 0; round < 10; round++) {
        const before = have?.entries.length ?? 0;
        have = updateGroupLog(have, page(groupLogFetchFrom(have)), keyOf, log.group);
        if (have.entries.length === before) return have;
      }
      throw new Error('the fetch did not settle');
    };
    const hashes = log.entries.map((e) => e.hash);
    expect(fetchAll(null).entries.map((e) => e.hash)).toEqual(hashes);
    const older = prefixOf(log, MAX_GROUP_LOG_PAGE_ENTRIES + 4, keyOf);
    expect(groupLogFetchFrom(older)).toBe(MAX_GROUP_LOG_PAGE_ENTRIES + 3);
    expect(fetchAll(older).entries.map((e) => e.hash)).toEqual(hashes);
    // The first page is honest, but it was not what this device asks for: it does not reach the head.
    expect(codeOf(() => updateGroupLog(older, page(0), keyOf, older.group))).toBe('GROUP_ROLLBACK');
    // A page that starts right after the head is accepted; one that leaves a gap is not.
    const next = older.entries.length;
    expect(updateGroupLog(older, all.slice(next), keyOf, older.group).entries).toHaveLength(total);
    expect(codeOf(() => updateGroupLog(older, all.slice(next + 1), keyOf, older.group))).toBe(
      'GROUP_CHAIN_BROKEN',
    );
  });

  it(`bounds the whole log at ${MAX_GROUP_LOG_BYTES} bytes, counting each entry's signed bytes`, () => {
    const log = startLog();
    const add = addMemberEntry(log, alice, pinned(carol), keyOf);
    const grown = appended(log, add, keyOf);
    const size = (e: GroupEntry) => groupEntrySize(groupEntrySigningBytes(e));
    expect(size(add)).toBe(756);
    expect(groupHead(grown).bytes).toBe(size(entries(log)[0] as GroupEntry) + 756);
    // A log 755 bytes short of the bound has no room for one more add.
    const nearly = { ...groupHead(log), bytes: MAX_GROUP_LOG_BYTES - 755 };
    expect(codeOf(() => applyGroupEntry(nearly, add, keyOf))).toBe('GROUP_FULL');
    expect(applyGroupEntry({ ...nearly, bytes: nearly.bytes - 1 }, add, keyOf).bytes).toBe(
      MAX_GROUP_LOG_BYTES,
    );
  });

  it('lets only admins add, remove, rename and set admins; a non-member may sign nothing', () => {
    const log = startLog();
    const add = addMemberEntry(log, alice, pinned(carol), keyOf);
    expect(codeOf(() => appended(log, resigned(add, bob, {}), keyOf))).toBe('GROUP_NOT_ADMIN');
    expect(codeOf(() => addMemberEntry(log, bob, pinned(carol), keyOf))).toBe('GROUP_NOT_ADMIN');
    expect(codeOf(() => removeMemberEntry(log, bob, alice.identifier, keyOf))).toBe(
      'GROUP_NOT_ADMIN',
    );
    expect(codeOf(() => renameGroupEntry(log, bob, 'Mine', keyOf))).toBe('GROUP_NOT_ADMIN');
    const leave = leaveGroupEntry(log, bob, keyOf);
    expect(codeOf(() => appended(log, resigned(leave, dave, {}), keyOf))).toBe('GROUP_NOT_MEMBER');
    expect(codeOf(() => appended(log, resigned(add, dave, {}), keyOf))).toBe('GROUP_NOT_MEMBER');
  });

  it('refuses a replayed add, and entries that contradict the membership', () => {
    let log = startLog();
    const add = addMemberEntry(log, alice, pinned(carol), keyOf);
    log = appended(log, add, keyOf);
    log = appended(log, removeMemberEntry(log, alice, carol.identifier, keyOf), keyOf);
    // The old add served again after the removal: out of place, and linked to the wrong entry.
    expect(codeOf(() => updateGroupLog(log, [...entries(log), add], keyOf, log.group))).toBe(
      'GROUP_CHAIN_BROKEN',
    );
    expect(codeOf(() => applyGroupEntry(groupHead(log), add, keyOf))).toBe('GROUP_CHAIN_BROKEN');
    // Served alone, it is the known entry 1 and the log stops there: the removal is hidden.
    expect(codeOf(() => appended(log, add, keyOf))).toBe('GROUP_ROLLBACK');
    const head = groupHead(log);
    const again = (change: Partial<GroupEntry>) =>
      resigned(add, alice, { index: head.index + 1, prev: head.hash, ...change });
    expect(codeOf(() => appended(log, again({ member: bob.identifier }), keyOf))).toBe(
      'GROUP_MEMBERSHIP_INVALID',
    );
    expect(codeOf(() => removeMemberEntry(log, alice, carol.identifier, keyOf))).toBe(
      'GROUP_MEMBERSHIP_INVALID',
    );
    expect(codeOf(() => setAdminsEntry(log, alice, [carol.identifier], keyOf))).toBe(
      'GROUP_MEMBERSHIP_INVALID',
    );
    const twice = resigned(entries(log)[0] as GroupEntry, alice, {
      members: [alice.identifier, alice.identifier],
    });
    expect(codeOf(() => logOf([twice], keyOf))).toBe('GROUP_MEMBERSHIP_INVALID');
    // Adding carol again is a new entry with its own place: that is allowed.
    expect(groupHead(appended(log, again({}), keyOf)).members).toEqual(ids(alice, bob, carol));
  });

  it('freezes membership once the last admin leaves', () => {
    let log = startLog();
    log = appended(log, leaveGroupEntry(log, alice, keyOf), keyOf);
    expect(groupHead(log).admins).toEqual([]);
    expect(codeOf(() => addMemberEntry(log, bob, pinned(carol), keyOf))).toBe('GROUP_NOT_ADMIN');
  });

  it(`bounds a group at ${MAX_GROUP_MEMBERS} members, and its largest entry fits in a packet`, () => {
    const shared = bob.keyPair.publicKey;
    const lookup: GroupKeyLookup = (id) =>
      id === alice.identifier ? alice.keyPair.publicKey : shared;
    const full = logOf(
      [createGroupEntry(alice, fillers(MAX_GROUP_MEMBERS - 1, shared), 'x'.repeat(128))],
      lookup,
    );
    expect(groupHead(full).members).toHaveLength(MAX_GROUP_MEMBERS);
    expect(codeOf(() => addMemberEntry(full, alice, pinned(carol), lookup))).toBe('GROUP_FULL');
    const create = entries(full)[0] as GroupEntry;
    expect(JSON.stringify(create).length).toBeLessThan(MAX_PACKET_BYTES);
    expect(
      codeOf(() => createGroupEntry(alice, fillers(MAX_GROUP_MEMBERS, shared), 'Too many')),
    ).toBe('OVERSIZE');
    expect(groupEntryHash(parseGroupEntry(create))).toBe(full.entries[0]?.hash);
    expect(codeOf(() => parseGroupEntry({ ...create, v: 2 }))).toBe('UNSUPPORTED_VERSION');
    expect(codeOf(() => parseGroupEntry({ ...create, op: 'promote' }))).toBe('MALFORMED_INPUT');
    expect(
      codeOf(() => parseGroupEntry({ ...create, sig: bytesToBase64(new Uint8Array(257)) })),
    ).toBe('OVERSIZE');
  });
});
