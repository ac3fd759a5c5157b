import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Account } from '../../src/cli/relay/account.js';
import { deleteAccountOnRelay } from '../../src/cli/relay/account-deletion.js';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';
import {
  addMemberEntry,
  bytesToBase64,
  createGroupEntry,
  decodeGroupPacketBytes,
  groupPacketSigningBytes,
  isGroupRecord,
  openGroupMessage,
  removeMemberEntry,
  sealGroupMessage,
  updateGroupLog,
  type GroupEntry,
  type GroupKeyLookup,
  type GroupLog,
  type GroupPacket,
  type StoredGroupPacket,
  type StreamRecord,
} from '../../src/core/index.js';
import { pssSign } from '../../src/core/rsa.js';
import {
  newUser,
  sealText,
  secondDevice,
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

async function appendTo(log: GroupLog | null, by: TestUser, entry: GroupEntry): Promise<GroupLog> {
  await by.client.groupAppend(entry);
  return updateGroupLog(log, [entry], keyOf, entry.group);
}

function seal(by: Account, log: GroupLog, text: string): GroupPacket {
  return sealGroupMessage({
    sender: { identifier: by.identifier, keyPair: by.keyPair },
    log,
    keyOf,
    body: { v: 1, type: 'text', text },
  });
}

/** A message changed in some field and signed again by `by`: authentic, but wrong in that field. */
function resigned(by: Account, message: GroupPacket, change: Partial<GroupPacket>): GroupPacket {
  const changed = { ...message, ...change };
  const sig = pssSign(
    by.keyPair.privateKey.keyObject,
    groupPacketSigningBytes(changed, decodeGroupPacketBytes(changed)),
  );
  return { ...changed, sig: bytesToBase64(sig) };
}

/** A user's whole stream, page by page. */
async function streamOf(client: RelayClient, limit = 500): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  for (;;) {
    const page = await client.sync(out.at(-1)?.seq ?? 0, limit);
    out.push(...page.packets);
    if (!page.more) return out;
  }
}

function groupRecords(records: readonly StreamRecord[]): StoredGroupPacket[] {
  return records.filter(isGroupRecord);
}

let log: GroupLog;

beforeAll(async () => {
  server = await startTestRelay({ dataDir: await tempDir() });
  const users = await Promise.all(
    ['gs-alice', 'gs-bob', 'gs-carol', 'gs-dave'].map((name) => newUser(server.url, name)),
  );
  [alice, bob, carol, dave] = users as [TestUser, TestUser, TestUser, TestUser];
  const keys = new Map([alice, bob, carol, dave].map((u) => [u.identifier, u.keyPair.publicKey]));
  keyOf = (id) => {
    const key = keys.get(id);
    if (key === undefined) throw new Error('no key');
    return key;
  };
  // A packet first, so group messages land in streams that already have places.
  await bob.client.send(sealText(bob, alice, 'before the group'));
  log = await appendTo(null, alice, createGroupEntry(alice, [pinned(bob), pinned(carol)], 'Send'));
});

afterAll(async () => {
  for (const user of [alice, bob, carol, dave]) user.client.close();
  await server.stop();
});

describe('group-send on the relay', () => {
  it('places one copy in every member’s stream once, gapless, pushes it, and a resend is a duplicate', async () => {
    const before = await Promise.all([alice, bob, carol].map((u) => streamOf(u.client)));
    const aliceOther = await secondDevice(server.url, alice);
    const pushed: StreamRecord[] = [];
    bob.client.on('packet', (stored) => pushed.push(stored));
    aliceOther.on('packet', (stored) => pushed.push(stored));
    const message = seal(alice, log, 'hello group');
    const sent = await alice.client.groupSend(message);
    expect(sent.duplicate).toBe(false);
    const after = await Promise.all([alice, bob, carol].map((u) => streamOf(u.client)));
    after.forEach((stream, i) => {
      expect(stream.map((r) => r.seq)).toEqual(stream.map((_, j) => j + 1));
      expect(stream).toHaveLength((before[i]?.length ?? 0) + 1);
      const last = stream.at(-1);
      expect(last && isGroupRecord(last) ? last.groupMessage : undefined).toEqual(message);
    });
    expect(after[0]?.at(-1)?.seq).toBe(sent.seq);
    const last = after[1]?.at(-1);
    if (!last || !isGroupRecord(last)) throw new Error('no group record');
    const opened = openGroupMessage({
      packet: last.groupMessage,
      reader: { identifier: bob.identifier, privateKey: bob.keyPair.privateKey },
      log,
      keyOf,
    });
    expect(opened.body).toEqual({ v: 1, type: 'text', text: 'hello group' });
    const deadline = Date.now() + 5000;
    while (pushed.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(groupRecords(pushed).map((r) => r.groupMessage.id)).toEqual([message.id, message.id]);
    aliceOther.close();

    expect(await alice.client.groupSend(message)).toEqual({ ...sent, duplicate: true });
    expect(await streamOf(carol.client)).toEqual(after[2]);
  });

  it('refuses a non-member (GROUP_NOT_MEMBER), a bad signature, a wrong key count, an unknown head, another sender’s message, and stores nothing', async () => {
    const before = await Promise.all([alice, bob, carol, dave].map((u) => streamOf(u.client)));
    const genuine = seal(bob, log, 'genuine');
    const sig = Buffer.from(genuine.sig, 'base64');
    sig[7] = (sig[7] ?? 0) ^ 1;
    const daveKeys = new Map([[dave.identifier, dave.keyPair.publicKey]]);
    const outsiders: GroupKeyLookup = (id) => daveKeys.get(id) ?? keyOf(id);
    const fromDave = resigned(dave, { ...genuine, from: dave.identifier }, {});
    expect(outsiders(dave.identifier)).toBe(dave.keyPair.publicKey);
    const codes = {
      nonMember: await refusalCode(() => dave.client.groupSend(fromDave)),
      badSignature: await refusalCode(() =>
        bob.client.groupSend({ ...genuine, sig: sig.toString('base64') }),
      ),
      keyCount: await refusalCode(() =>
        bob.client.groupSend(resigned(bob, genuine, { keys: genuine.keys.slice(1) })),
      ),
      headBeyond: await refusalCode(() =>
        bob.client.groupSend(resigned(bob, genuine, { headIndex: 5 })),
      ),
      headHash: await refusalCode(() =>
        bob.client.groupSend(resigned(bob, genuine, { head: 'ab'.repeat(32) })),
      ),
      unknownGroup: await refusalCode(() =>
        bob.client.groupSend(resigned(bob, genuine, { group: 'cd'.repeat(32) })),
      ),
      otherSender: await refusalCode(() => carol.client.groupSend(genuine)),
    };
    expect(codes).toEqual({
      nonMember: 'GROUP_NOT_MEMBER',
      badSignature: 'SIGNATURE_INVALID',
      keyCount: 'GROUP_MEMBERSHIP_INVALID',
      headBeyond: 'GROUP_HEAD_UNKNOWN',
      headHash: 'GROUP_HEAD_UNKNOWN',
      unknownGroup: 'GROUP_HEAD_UNKNOWN',
      otherSender: 'FORBIDDEN_SENDER',
    });
    const after = await Promise.all([alice, bob, carol, dave].map((u) => streamOf(u.client)));
    expect(after).toEqual(before);
  });

  it('refuses a group message whose id a packet holds (PACKET_ID_TAKEN)', async () => {
    const packet = sealText(bob, alice, 'a packet');
    await bob.client.send(packet);
    const reused = resigned(bob, seal(bob, log, 'reused id'), { id: packet.id });
    expect(await refusalCode(() => bob.client.groupSend(reused))).toBe('PACKET_ID_TAKEN');
  });

  it('refuses a removed member with GROUP_SENDER_REMOVED even naming an old head, and a member added later gets only later messages', async () => {
    const old = log;
    const early = seal(alice, log, 'before dave');
    await alice.client.groupSend(early);
    log = await appendTo(log, alice, removeMemberEntry(log, alice, carol.identifier, keyOf));
    const stale = seal(carol, old, 'still here?');
    const carolBefore = await streamOf(carol.client);
    expect(await refusalCode(() => carol.client.groupSend(stale))).toBe('GROUP_SENDER_REMOVED');
    expect(await refusalCode(() => carol.client.groupSend(seal(carol, old, 'again')))).toBe(
      'GROUP_SENDER_REMOVED',
    );
    expect(await streamOf(carol.client)).toEqual(carolBefore);

    // Alice, on a device that missed the removal, writes for the old head: Carol still gets it.
    const forOld = seal(alice, old, 'for the old head');
    await alice.client.groupSend(forOld);
    expect(groupRecords(await streamOf(carol.client)).map((r) => r.groupMessage.id)).toContain(
      forOld.id,
    );

    log = await appendTo(log, alice, addMemberEntry(log, alice, pinned(dave), keyOf));
    const late = seal(alice, log, 'welcome dave');
    await alice.client.groupSend(late);
    const daves = groupRecords(await streamOf(dave.client)).map((r) => r.groupMessage.id);
    expect(daves).toEqual([late.id]);
    expect(groupRecords(await streamOf(carol.client)).map((r) => r.groupMessage.id)).not.toContain(
      late.id,
    );
  });

  it('pages group messages through sync and through history of the group', async () => {
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const message = seal(bob, log, `page ${i}`);
      await bob.client.groupSend(message);
      sent.push(message.id);
    }
    const whole = await streamOf(bob.client);
    expect(await streamOf(bob.client, 2)).toEqual(whole);
    const ids: string[] = [];
    let before: number | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const page = await bob.client.groupHistory(log.group, before, 2);
      const records = groupRecords(page.packets);
      expect(records).toHaveLength(page.packets.length);
      ids.unshift(...records.map((r) => r.groupMessage.id));
      if (!page.more) break;
      before = page.packets[0]?.seq;
    }
    expect(ids).toEqual(groupRecords(whole).map((r) => r.groupMessage.id));
    expect(ids.slice(-5)).toEqual(sent);
    // A peer's history leaves group messages out.
    const withAlice = await bob.client.history(alice.identifier);
    expect(groupRecords(withAlice.packets)).toEqual([]);
    // A receipt covers group records like any other place.
    await bob.client.receipt(whole.at(-1)?.seq ?? 1);
  });

  it('a deleted account cannot be added (ACCOUNT_DELETED) and a deleted member gets no place, not even under the name registered again', async () => {
    const retirementMs = 4_000;
    const relay = await startTestRelay({ limits: { retirementMs } });
    const users = await Promise.all(
      ['gsd-alice', 'gsd-bob', 'gsd-erin', 'gsd-frank'].map((name) => newUser(relay.url, name)),
    );
    const [a, b, erin, frank] = users as [TestUser, TestUser, TestUser, TestUser];
    try {
      const keys = new Map(users.map((u) => [u.identifier, u.keyPair.publicKey]));
      const lookup: GroupKeyLookup = (id) => {
        const key = keys.get(id);
        if (key === undefined) throw new Error('no key');
        return key;
      };
      const created = createGroupEntry(a, [pinned(b), pinned(erin)], 'Leavers');
      await a.client.groupAppend(created);
      const small = updateGroupLog(null, [created], lookup, created.group);
      const before = sealGroupMessage({
        sender: { identifier: a.identifier, keyPair: a.keyPair },
        log: small,
        keyOf: lookup,
        body: { v: 1, type: 'text', text: 'before erin left' },
      });
      await a.client.groupSend(before);
      await deleteAccountOnRelay(frank.client, frank, frank.password);
      await deleteAccountOnRelay(erin.client, erin, erin.password);
      const deletedAt = Date.now();

      const addFrank = addMemberEntry(small, a, pinned(frank), lookup);
      expect(await refusalCode(() => a.client.groupAppend(addFrank))).toBe('ACCOUNT_DELETED');
      // Erin is still in the log (nobody removed her): the message carries a key for her, as members seal it.
      const after = sealGroupMessage({
        sender: { identifier: a.identifier, keyPair: a.keyPair },
        log: small,
        keyOf: lookup,
        body: { v: 1, type: 'text', text: 'after erin left' },
      });
      await a.client.groupSend(after);
      const bobs = groupRecords(await streamOf(b.client)).map((r) => r.groupMessage.id);
      expect(bobs).toEqual([before.id, after.id]);

      // Once the name may be taken again, its new owner finds in its stream what erin had, nothing later.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, deletedAt + retirementMs + 50 - Date.now())),
      );
      const again = await newUser(relay.url, 'gsd-erin');
      users.push(again);
      expect(again.identifier).toBe(erin.identifier);
      const theirs = groupRecords(await streamOf(again.client)).map((r) => r.groupMessage.id);
      expect(theirs).toEqual([before.id]);
    } finally {
      for (const user of users) user.client.close();
      await relay.stop();
    }
  }, 60_000);
});
