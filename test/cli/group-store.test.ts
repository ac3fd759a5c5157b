import { describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reportOf } from '../../src/cli/error-report.js';
import {
  heldGroupLog,
  keepGroupLog,
  TooManyGroupsError,
} from '../../src/cli/profile/group-store.js';
import { mergeProfiles } from '../../src/cli/profile/profile-merge.js';
import { MAX_PROFILE_GROUPS } from '../../src/cli/profile/profile-schema.js';
import {
  loadProfile,
  ProfileCorruptError,
  saveProfile,
  type Profile,
} from '../../src/cli/profile/profile.js';
import { newProfile, prepareRegistration } from '../../src/cli/relay/account.js';
import {
  addMemberEntry,
  createGroupEntry,
  groupHead,
  removeMemberEntry,
  type GroupLog,
} from '../../src/core/index.js';
import { alice, bob, newParty } from '../support/parties.js';
import { appended, keyringOf, logOf } from '../support/groups.js';
import { captureError } from '../support/capture-error.js';
import { tempDir } from '../support/relay-harness.js';

const carol = await newParty('carol');
const keyOf = keyringOf([alice, bob, carol]);
const { account } = await prepareRegistration('keeper', 'correct horse battery');

function profile(): Profile {
  return newProfile(account, 'http://127.0.0.1:9', true);
}

const created = logOf(
  [
    createGroupEntry(
      alice,
      [{ identifier: bob.identifier, publicKey: bob.keyPair.publicKey }],
      'team',
    ),
  ],
  keyOf,
);
const withCarol = appended(
  created,
  addMemberEntry(
    created,
    alice,
    { identifier: carol.identifier, publicKey: carol.keyPair.publicKey },
    keyOf,
  ),
  keyOf,
);
const withoutBob = appended(
  created,
  removeMemberEntry(created, alice, bob.identifier, keyOf),
  keyOf,
);

function held(p: Profile, log: GroupLog): GroupLog | null {
  return heldGroupLog(p, log.group);
}

describe('the group store in the profile', () => {
  it('keeps a verified log and its name, and replays it from profile.json', async () => {
    const home = await tempDir('metachat-group-store-');
    const mine = profile();
    await saveProfile(home, mine);
    keepGroupLog(mine, withCarol, 'team');
    await saveProfile(home, mine);
    const loaded = await loadProfile(home);
    const log = held(loaded, withCarol);
    expect(log && groupHead(log)).toMatchObject({
      index: 1,
      hash: groupHead(withCarol).hash,
      members: groupHead(withCarol).members,
    });
    expect(loaded.groups?.[withCarol.group]?.name).toBe('team');
  });

  it('refuses a log that was edited on disk into a broken chain, or filed under another id', async () => {
    const home = await tempDir('metachat-group-store-');
    const mine = profile();
    keepGroupLog(mine, withCarol, 'team');
    await saveProfile(home, mine);
    const file = join(home, 'profile.json');
    const onDisk = JSON.parse(await readFile(file, 'utf8')) as Profile;
    const record = onDisk.groups?.[withCarol.group];
    if (record === undefined) throw new Error('not saved');
    // The create entry cut off: the log no longer starts anywhere.
    await writeFile(
      file,
      JSON.stringify({
        ...onDisk,
        groups: { [withCarol.group]: { ...record, entries: record.entries.slice(1) } },
      }),
    );
    const broken = await loadProfile(home);
    expect(captureError(() => held(broken, withCarol))).toBeInstanceOf(ProfileCorruptError);
    expect(captureError(() => held(broken, withCarol)).message).toMatch(/GROUP_CHAIN_BROKEN/);
    // A whole log filed under another group's id.
    const other = 'ab'.repeat(32);
    await writeFile(file, JSON.stringify({ ...onDisk, groups: { [other]: record } }));
    const misfiled = await loadProfile(home);
    expect(captureError(() => heldGroupLog(misfiled, other))).toBeInstanceOf(ProfileCorruptError);
  });

  it('merges two processes’ logs: the longer one that extends the other, else the one on disk', () => {
    const base = profile();
    keepGroupLog(base, created, 'team');
    const longer = profile();
    keepGroupLog(longer, withCarol, 'team');
    const forked = profile();
    keepGroupLog(forked, withoutBob, 'team');
    const entries = (p: Profile) => p.groups?.[created.group]?.entries.length;
    expect(entries(mergeProfiles(base, longer, base))).toBe(2);
    expect(entries(mergeProfiles(base, base, longer))).toBe(2);
    // Two different second entries: the relay forked them; the file's stays.
    const merged = mergeProfiles(base, forked, longer);
    expect(merged.groups?.[created.group]?.entries[1]).toEqual(withCarol.entries[1]?.entry);
    // A group only one side holds is kept.
    expect(Object.keys(mergeProfiles(profile(), base, profile()).groups ?? {})).toEqual([
      created.group,
    ]);
  });

  it('keeps a group’s read marker and hello mark when the log grows, and merges them forward', () => {
    const mine = profile();
    keepGroupLog(mine, created, 'team');
    const record = mine.groups?.[created.group];
    if (record === undefined) throw new Error('not kept');
    record.readUpTo = 7;
    record.helloAt = 0;
    // A longer log verified later keeps both marks.
    keepGroupLog(mine, withCarol, undefined);
    expect(mine.groups?.[created.group]).toMatchObject({ readUpTo: 7, helloAt: 0, name: 'team' });
    const theirs = profile();
    keepGroupLog(theirs, created, 'team');
    const other = theirs.groups?.[created.group];
    if (other === undefined) throw new Error('not kept');
    other.readUpTo = 9;
    // The longer log from one side, the later read marker from the other.
    const merged = mergeProfiles(profile(), mine, theirs).groups?.[created.group];
    expect(merged?.entries).toHaveLength(2);
    expect(merged).toMatchObject({ readUpTo: 9, helloAt: 0 });
  });

  it('holds at most MAX_PROFILE_GROUPS groups: TOO_MANY_GROUPS', () => {
    const full = profile();
    // Groups the user opened (hello marks): no stranger's group to give way.
    const record = { entries: created.entries.map((e) => e.entry), helloAt: 0 };
    full.groups = Object.fromEntries(
      Array.from({ length: MAX_PROFILE_GROUPS }, (_, i) => [
        i.toString(16).padStart(64, '0'),
        record,
      ]),
    );
    const error = captureError(() => {
      keepGroupLog(full, created, 'team');
    });
    expect(error).toBeInstanceOf(TooManyGroupsError);
    expect(reportOf(error)).toMatchObject({ code: 'TOO_MANY_GROUPS', exitCode: 1 });
  });
});
