import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Account } from '../../src/cli/relay/account.js';
import { RelayClient, RelayRefusedError } from '../../src/cli/relay/relay-client.js';
import {
  addMemberEntry,
  createGroupEntry,
  groupHead,
  identifierFromUsername,
  leaveGroupEntry,
  MAX_GROUP_LOG_PAGE_ENTRIES,
  removeMemberEntry,
  setAdminsEntry,
  signGroupEntry,
  updateGroupLog,
  type GroupEntry,
  type GroupKeyLookup,
  type GroupLog,
} from '../../src/core/index.js';
import {
  newUser,
  startTestRelay,
  tempDir,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { refusalCode } from '../support/refusal-code.js';

let server: TestRelay;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;
let keyOf: GroupKeyLookup;
const pinned = (u: Account) => ({ identifier: u.identifier, publicKey: u.keyPair.publicKey });

/** Reads a whole log page by page, as a client does. */
async function fetchLog(client: RelayClient, group: string, limit?: number): Promise<GroupEntry[]> {
  const entries: GroupEntry[] = [];
  for (;;) {
    const page = await client.groupLog(group, entries.length, limit);
    entries.push(...page.entries);
    if (!page.more) return entries;
  }
}

/** Appends an entry through the relay and returns the log as a member then holds it. */
async function appendTo(log: GroupLog | null, by: TestUser, entry: GroupEntry): Promise<GroupLog> {
  await by.client.groupAppend(entry);
  return updateGroupLog(log, [entry], keyOf, entry.group);
}

beforeAll(async () => {
  server = await startTestRelay({ dataDir: await tempDir() });
  const users = await Promise.all(
    ['g-alice', 'g-bob', 'g-carol', 'g-dave'].map((name) => newUser(server.url, name)),
  );
  [alice, bob, carol, dave] = users as [TestUser, TestUser, TestUser, TestUser];
  const keys = new Map([alice, bob, carol, dave].map((u) => [u.identifier, u.keyPair.publicKey]));
  keyOf = (id) => {
    const key = keys.get(id);
    if (key === undefined) throw new Error('no key');
    return key;
  };
});

afterAll(async () => {
  for (const user of [alice, bob, carol, dave]) user.client.close();
  await server.stop();
});

describe('group logs on the relay', () => {
  it('stores a create and later entries, pushes each to the members, and serves the log in pages', async () => {
    const pushed: GroupEntry[] = [];
    bob.client.on('group-entry', (entry) => pushed.push(entry));
    const create = createGroupEntry(alice, [pinned(bob)], 'Relay trip');
    const stored = await alice.client.groupAppend(create);
    expect(stored).toMatchObject({ index: 0, duplicate: false });
    expect(await alice.client.groupAppend(create)).toEqual({ ...stored, duplicate: true });
    let log = updateGroupLog(null, [create], keyOf, create.group);
    expect(stored.hash).toBe(groupHead(log).hash);
    log = await appendTo(log, alice, addMemberEntry(log, alice, pinned(carol), keyOf));
    log = await appendTo(
      log,
      alice,
      setAdminsEntry(log, alice, [alice.identifier, carol.identifier], keyOf),
    );
    log = await appendTo(log, carol, removeMemberEntry(log, carol, bob.identifier, keyOf));
    log = await appendTo(log, alice, leaveGroupEntry(log, alice, keyOf));
    // Carol, a newcomer, reads the whole log two entries a page and verifies it herself.
    const served = await fetchLog(carol.client, create.group, 2);
    const verified = updateGroupLog(null, served, keyOf, create.group);
    expect(groupHead(verified).members).toEqual([carol.identifier]);
    expect(verified.entries.map((e) => e.hash)).toEqual(log.entries.map((e) => e.hash));
    // Bob was removed: he still may read the log, to see the entry that removed him.
    expect(await fetchLog(bob.client, create.group)).toHaveLength(5);
    const deadline = Date.now() + 5000;
    while (pushed.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(pushed.map((e) => e.op)).toEqual(['create', 'add', 'set-admins', 'remove']);
  });

  it('refuses what no member would accept, each with its code, and stores nothing', async () => {
    const create = createGroupEntry(alice, [pinned(bob)], 'Refusals');
    await alice.client.groupAppend(create);
    const log = updateGroupLog(null, [create], keyOf, create.group);
    const add = addMemberEntry(log, alice, pinned(carol), keyOf);
    const { sig: _sig, ...unsigned } = { ...add, author: bob.identifier };
    const byBob = signGroupEntry(bob.keyPair.privateKey, unsigned);
    const stranger = {
      identifier: identifierFromUsername('nobody-here'),
      publicKey: dave.keyPair.publicKey,
    };
    const codes = {
      notAuthor: await refusalCode(() => bob.client.groupAppend(add)),
      notAdmin: await refusalCode(() => bob.client.groupAppend(byBob)),
      forged: await refusalCode(() =>
        alice.client.groupAppend({ ...add, member: dave.identifier } as GroupEntry),
      ),
      unregistered: await refusalCode(() =>
        alice.client.groupAppend(addMemberEntry(log, alice, stranger, keyOf)),
      ),
      notMember: await refusalCode(() =>
        dave.client.groupAppend(
          signGroupEntry(dave.keyPair.privateKey, { ...unsigned, author: dave.identifier }),
        ),
      ),
      otherCreate: await refusalCode(() =>
        alice.client.groupAppend(
          signGroupEntry(alice.keyPair.privateKey, { ...create, time: create.time + 1 }),
        ),
      ),
      readByStranger: await refusalCode(() => dave.client.groupLog(create.group)),
      pageTooLong: await refusalCode(() =>
        alice.client.groupLog(create.group, 0, MAX_GROUP_LOG_PAGE_ENTRIES + 1),
      ),
      shape: await refusalCode(() =>
        alice.client.raw('group-append', { ...add, extra: 1 }).then(expectRefused),
      ),
    };
    expect(codes).toEqual({
      notAuthor: 'FORBIDDEN_SENDER',
      notAdmin: 'GROUP_NOT_ADMIN',
      forged: 'SIGNATURE_INVALID',
      unregistered: 'UNKNOWN_IDENTIFIER',
      notMember: 'GROUP_NOT_MEMBER',
      otherCreate: 'GROUP_CHAIN_BROKEN',
      readByStranger: 'GROUP_NOT_MEMBER',
      pageTooLong: 'MALFORMED_INPUT',
      shape: 'MALFORMED_INPUT',
    });
    expect(await fetchLog(alice.client, create.group)).toEqual([create]);
  });

  it('takes one of two concurrent changes at one place; the other is told to fetch the log', async () => {
    const create = createGroupEntry(alice, [pinned(bob), pinned(carol)], 'Race');
    let log = await appendTo(null, alice, create);
    log = await appendTo(
      log,
      alice,
      setAdminsEntry(log, alice, [alice.identifier, bob.identifier], keyOf),
    );
    const fromAlice = removeMemberEntry(log, alice, carol.identifier, keyOf);
    const fromBob = addMemberEntry(log, bob, pinned(dave), keyOf);
    const outcomes = await Promise.all([
      refusalCode(() => alice.client.groupAppend(fromAlice)),
      refusalCode(() => bob.client.groupAppend(fromBob)),
    ]);
    expect([...outcomes].sort()).toEqual(['GROUP_CHAIN_BROKEN', 'ok']);
    const served = await fetchLog(carol.client, create.group);
    expect(served).toHaveLength(3);
    expect(() => updateGroupLog(log, served, keyOf, create.group)).not.toThrow();
  });

  it('keeps the logs across a restart and goes on from the stored head', async () => {
    const dataDir = await tempDir();
    let relay = await startTestRelay({ dataDir });
    const erin = await newUser(relay.url, 'g-erin');
    const frank = await newUser(relay.url, 'g-frank');
    const keys: GroupKeyLookup = (id) =>
      (id === erin.identifier ? erin.keyPair : frank.keyPair).publicKey;
    const create = createGroupEntry(erin, [pinned(frank)], 'Kept');
    await erin.client.groupAppend(create);
    let log = updateGroupLog(null, [create], keys, create.group);
    const next = setAdminsEntry(log, erin, [erin.identifier, frank.identifier], keys);
    await erin.client.groupAppend(next);
    log = updateGroupLog(log, [next], keys, create.group);
    erin.client.close();
    frank.client.close();
    await relay.stop(true);
    relay = await startTestRelay({ dataDir });
    try {
      const client = await RelayClient.connect(relay.url);
      await client.authenticate(frank.identifier, frank.keyPair.privateKey);
      expect(await fetchLog(client, create.group)).toEqual([create, next]);
      const leave = leaveGroupEntry(log, frank, keys);
      expect(await client.groupAppend(leave)).toMatchObject({ index: 2, duplicate: false });
      expect(
        await refusalCode(() =>
          client.groupAppend(setAdminsEntry(log, frank, [frank.identifier], keys)),
        ),
      ).toBe('GROUP_CHAIN_BROKEN');
      client.close();
    } finally {
      await relay.stop();
    }
  });
});

function expectRefused(response: unknown): void {
  const error = (response as { ok?: boolean; error?: { code: string; message: string } }).error;
  if (error) throw new RelayRefusedError(error.code, error.message);
}
