import { describe, expect, it } from '@jest/globals';
import { reportOf } from '../../src/cli/error-report.js';
import {
  entriesBytes,
  GroupStoreFullError,
  makeGroupRoom,
  MAX_PROFILE_GROUP_BYTES,
  MAX_STRANGER_GROUP_BYTES,
  MAX_STRANGER_GROUPS,
  profileGroupBytes,
  strangerGroup,
  TooManyGroupsError,
  type GroupBudget,
} from '../../src/cli/profile/group-budget.js';
import { dropGroupLog, keepGroupLog } from '../../src/cli/profile/group-store.js';
import { mergeProfiles } from '../../src/cli/profile/profile-merge.js';
import type { Profile } from '../../src/cli/profile/profile.js';
import { newProfile, prepareRegistration } from '../../src/cli/relay/account.js';
import { assertListOrder, GroupListUnorderedError } from '../../src/cli/groups/group-discovery.js';
import { createGroupEntry, MAX_GROUP_LOG_BYTES, type GroupLog } from '../../src/core/index.js';
import { alice, bob } from '../support/parties.js';
import { keyringOf, logOf } from '../support/groups.js';
import { captureError } from '../support/capture-error.js';

const { account } = await prepareRegistration('keeper', 'correct horse battery');
const keyOf = keyringOf([alice, bob, { identifier: account.identifier, keyPair: account.keyPair }]);
const me = { identifier: account.identifier, publicKey: account.keyPair.publicKey };

function profile(): Profile {
  return newProfile(account, 'http://127.0.0.1:9', true);
}

/** A group Alice creates that lists the keeper (and Bob), named `name`. */
function aliceGroup(name: string): GroupLog {
  return logOf(
    [
      createGroupEntry(
        alice,
        [me, { identifier: bob.identifier, publicKey: bob.keyPair.publicKey }].sort((a, b) =>
          a.identifier < b.identifier ? -1 : 1,
        ),
        name,
      ),
    ],
    keyOf,
  );
}

/** A group the keeper created. */
function myGroup(name: string): GroupLog {
  const keeper = { identifier: account.identifier, keyPair: account.keyPair };
  return logOf(
    [
      createGroupEntry(
        keeper,
        [{ identifier: bob.identifier, publicKey: bob.keyPair.publicKey }],
        name,
      ),
    ],
    keyOf,
  );
}

const one = entriesBytes(aliceGroup('sized').entries.map((e) => e.entry));
const small: GroupBudget = {
  groups: 30,
  bytes: one * 8 + 400,
  strangerGroups: 3,
  strangerBytes: one * 3 + 200,
};

describe('the byte and stranger bounds of the groups a profile keeps', () => {
  it('chooses bounds that hold a log at the protocol bound', () => {
    // JSON of a log is larger than its counted bytes (base64): 1.4 times leaves the margin.
    expect(MAX_STRANGER_GROUP_BYTES).toBeGreaterThan(MAX_GROUP_LOG_BYTES * 1.4);
    expect(MAX_PROFILE_GROUP_BYTES).toBeGreaterThanOrEqual(4 * MAX_STRANGER_GROUP_BYTES);
    expect(MAX_STRANGER_GROUPS).toBeLessThan(200);
  });

  it('a stranger flooding groups pushes out only its own oldest, never a group I engaged with', () => {
    const mine = profile();
    const own = myGroup('mine');
    keepGroupLog(mine, own, 'mine');
    const opened = aliceGroup('opened');
    keepGroupLog(mine, opened, 'opened');
    const record = mine.groups?.[opened.group];
    if (record === undefined) throw new Error('not kept');
    record.helloAt = 0;
    const flood = Array.from({ length: 30 }, (_, i) => aliceGroup(`spam ${String(i)}`));
    for (const log of flood) keepGroupLog(mine, log, undefined);
    const kept = Object.keys(mine.groups ?? {});
    expect(kept).toContain(own.group);
    expect(kept).toContain(opened.group);
    // The newest MAX_STRANGER_GROUPS of the flood, the oldest gone.
    expect(kept.filter((id) => id !== own.group && id !== opened.group)).toEqual(
      flood.slice(-MAX_STRANGER_GROUPS).map((log) => log.group),
    );
  });

  it('a group a known peer added me to is no stranger’s; one of anyone else is', () => {
    const mine = profile();
    const entries = aliceGroup('team').entries.map((e) => e.entry);
    expect(strangerGroup(mine, entries)).toBe(true);
    mine.peers[alice.identifier] = { alias: 'al' };
    expect(strangerGroup(mine, entries)).toBe(false);
    mine.peers[alice.identifier] = { verified: true };
    expect(strangerGroup(mine, entries)).toBe(false);
    expect(
      strangerGroup(
        profile(),
        myGroup('own').entries.map((e) => e.entry),
      ),
    ).toBe(false);
  });

  it('past the strangers’ count or bytes, their oldest group gives way; one too large alone is GROUP_STORE_FULL', () => {
    const mine = profile();
    const logs = Array.from({ length: 5 }, (_, i) => aliceGroup(`s ${String(i)}`));
    for (const log of logs) {
      makeGroupRoom(
        mine,
        log.group,
        log.entries.map((e) => e.entry),
        small,
      );
      (mine.groups ??= {})[log.group] = { entries: log.entries.map((e) => e.entry) };
    }
    expect(Object.keys(mine.groups ?? {})).toEqual(logs.slice(-3).map((l) => l.group));
    const tight = { ...small, strangerBytes: Math.floor(one / 2) };
    const error = captureError(() =>
      makeGroupRoom(
        profile(),
        logs[0]?.group ?? '',
        logs[0]?.entries.map((e) => e.entry) ?? [],
        tight,
      ),
    );
    expect(error).toBeInstanceOf(GroupStoreFullError);
    expect(reportOf(error)).toMatchObject({ code: 'GROUP_STORE_FULL', exitCode: 1 });
  });

  it('engaged groups past the byte bound are GROUP_STORE_FULL, strangers’ dropped first', () => {
    const mine = profile();
    const stranger = aliceGroup('stranger');
    (mine.groups ??= {})[stranger.group] = { entries: stranger.entries.map((e) => e.entry) };
    const own = Array.from({ length: 20 }, (_, i) => myGroup(`own ${String(i)}`));
    let refused: unknown;
    for (const log of own) {
      try {
        makeGroupRoom(
          mine,
          log.group,
          log.entries.map((e) => e.entry),
          small,
        );
        (mine.groups ??= {})[log.group] = { entries: log.entries.map((e) => e.entry) };
      } catch (error) {
        refused = error;
        break;
      }
    }
    expect(Object.keys(mine.groups ?? {})).not.toContain(stranger.group);
    expect(refused).toBeInstanceOf(GroupStoreFullError);
    expect(profileGroupBytes(mine)).toBeLessThanOrEqual(small.bytes);
  });

  it('past the group count with no stranger’s group to drop: TOO_MANY_GROUPS', () => {
    const mine = profile();
    const budget = { ...small, groups: 2, bytes: one * 100 };
    for (const log of [myGroup('a'), myGroup('b')]) {
      makeGroupRoom(
        mine,
        log.group,
        log.entries.map((e) => e.entry),
        budget,
      );
      (mine.groups ??= {})[log.group] = { entries: log.entries.map((e) => e.entry) };
    }
    const third = myGroup('c');
    const error = captureError(() =>
      makeGroupRoom(
        mine,
        third.group,
        third.entries.map((e) => e.entry),
        budget,
      ),
    );
    expect(error).toBeInstanceOf(TooManyGroupsError);
    expect(reportOf(error)).toMatchObject({ code: 'TOO_MANY_GROUPS' });
  });

  it('a group-list page out of order or not after `after` is GROUP_LIST_UNORDERED', () => {
    const a = '0a'.repeat(32);
    const b = '0b'.repeat(32);
    expect(() => assertListOrder([a, b], undefined)).not.toThrow();
    for (const [page, after] of [
      [[b, a], undefined],
      [[a, a], undefined],
      [[a], b],
      [[b], b],
    ] as const) {
      const error = captureError(() => assertListOrder(page, after));
      expect(error).toBeInstanceOf(GroupListUnorderedError);
      expect(reportOf(error).code).toBe('GROUP_LIST_UNORDERED');
    }
  });

  it('a group this process dropped stays dropped when its save merges with the file', () => {
    const base = profile();
    const spam = aliceGroup('spam');
    keepGroupLog(base, spam, undefined);
    const mine = structuredClone(base);
    dropGroupLog(mine, spam.group);
    const merged = mergeProfiles(base, mine, structuredClone(base));
    expect(Object.keys(merged.groups ?? {})).toEqual([]);
  });
});
