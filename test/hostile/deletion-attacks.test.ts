import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  generateKeyPair,
  newAuthNonce,
  signAccountDeletion,
  systemRandom,
  type DeletionResult,
  type KeyPair,
} from '../../src/core/index.js';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';
import { newUser } from '../support/relay-harness.js';
import type { Behaviour } from './hostile-relay.js';
import { HostileCliWorld, jsonLines } from './cli-world.js';

// A relay that claims a contact deleted the account: the real CLI, as child processes, believes it
// only with a deletion statement signed by the key it pinned; otherwise it warns (DELETION_UNVERIFIED).

let world: HostileCliWorld;
let mallory: KeyPair;
/** A user of the real relay who reads the real tombstones. */
let observer: RelayClient;

interface PeerPin {
  publicKey?: string;
  changedKey?: string;
}

async function pinOf(name: string, peer: string): Promise<PeerPin | undefined> {
  const profile = await world.profile<{ peers: Record<string, PeerPin> }>(name);
  return profile.peers[world.id(peer)];
}

/** A relay that says `identifier` was deleted, and answers `deletion` with `tombstone` (or refuses it). */
function claimDeleted(identifier: string, tombstone?: DeletionResult): Behaviour {
  const refusal = (code: string, message: string) => ({ ok: false, error: { code, message } });
  return {
    answer(event, payload) {
      if ((payload as { identifier?: unknown } | undefined)?.identifier !== identifier)
        return undefined;
      if (event === 'key') return refusal('ACCOUNT_DELETED', 'This account was deleted.');
      if (event === 'deletion')
        return tombstone === undefined
          ? refusal('UNKNOWN_IDENTIFIER', 'No deleted account.')
          : { ok: true, ...tombstone };
      return undefined;
    },
  };
}

/** Sends as `name` to `peer` through the misbehaving relay, with --json: the result, its code, whether a send left. */
async function sendThrough(behaviour: Behaviour, name: string, peer: string) {
  world.hostile.behave(behaviour);
  const before = world.hostile.requests.length;
  try {
    const result = await world.cli(name, ['send', world.id(peer), 'are you there?', '--json']);
    const sent = world.hostile.requests.slice(before).some((r) => r.event === 'send');
    const [report] = jsonLines(
      result.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .join('\n'),
    );
    const error = report?.['error'] as { code?: string; message?: string } | undefined;
    return { result, sent, code: error?.code, message: error?.message ?? '' };
  } finally {
    world.hostile.behave({});
  }
}

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-deletion-attacks-');
  mallory = await generateKeyPair();
  observer = (await newUser(world.real.url, 'deletion-observer')).client;
  await world.register('alice');
  await world.register('bob');
  await world.register('carol');
  await world.register('dave');
  expect((await world.cli('alice', ['send', world.id('bob'), 'hello bob'])).code).toBe(0);
  expect((await world.cli('alice', ['send', world.id('dave'), 'hello dave'])).code).toBe(0);
  expect((await world.cli('alice', ['send', world.id('carol'), 'hello carol'])).code).toBe(0);
  // Carol really leaves: her tombstone holds a statement her key signed.
  const gone = await world.cli('carol', ['delete-account', '--confirm', 'carol']);
  expect(gone.code).toBe(0);
}, 180_000);

afterAll(async () => {
  observer.close();
  await world.stop();
});

describe('a relay that says a contact deleted the account', () => {
  it('an honest deletion verifies under the pinned key: ACCOUNT_DELETED, said as signed', async () => {
    const { result, sent, code, message } = await sendThrough({}, 'alice', 'carol');
    expect(result.code).toBe(1);
    expect(sent).toBe(false);
    expect(code).toBe('ACCOUNT_DELETED');
    expect(message).toMatch(
      /asked to delete their account on \d{4}-\d\d-\d\d \(signed by the key pinned here\), and the relay says it is deleted/,
    );
  }, 60_000);

  it('without a statement it is DELETION_UNVERIFIED: warned, nothing sent, the pin kept', async () => {
    const pinned = await pinOf('alice', 'bob');
    const { result, sent, code, message } = await sendThrough(
      claimDeleted(world.id('bob')),
      'alice',
      'bob',
    );
    expect(result.code).toBe(1);
    expect(sent).toBe(false);
    expect(code).toBe('DELETION_UNVERIFIED');
    expect(message).toMatch(
      /the relay says .* deleted the account, but shows no request to delete it signed by .*'s key \(UNKNOWN_IDENTIFIER/,
    );
    expect(await pinOf('alice', 'bob')).toEqual(pinned);
  }, 60_000);

  it('a statement another key signed (Mallory’s, for Bob’s identifier and key) is DELETION_UNVERIFIED', async () => {
    const bobKey = (await pinOf('alice', 'bob'))?.publicKey ?? '';
    const forged = signAccountDeletion(
      world.id('bob'),
      newAuthNonce(systemRandom),
      Date.now(),
      mallory,
    );
    const { sent, code, message } = await sendThrough(
      claimDeleted(world.id('bob'), {
        publicKey: bobKey,
        deletedAt: Date.now(),
        statement: forged,
      }),
      'alice',
      'bob',
    );
    expect(sent).toBe(false);
    expect(code).toBe('DELETION_UNVERIFIED');
    expect(message).toMatch(/DELETION_SIGNATURE_INVALID/);
  }, 60_000);

  it('Carol’s real statement served as Bob’s is DELETION_UNVERIFIED (it names another identifier and key)', async () => {
    const carols = await observer.deletion(world.id('carol'));
    const asCarol = await sendThrough(claimDeleted(world.id('bob'), carols), 'alice', 'bob');
    expect(asCarol.code).toBe('DELETION_UNVERIFIED');
    expect(asCarol.message).toMatch(/names another key than the one pinned here/);
    const bobKey = (await pinOf('alice', 'bob'))?.publicKey ?? '';
    const relabelled = { ...carols, publicKey: bobKey };
    const asBob = await sendThrough(claimDeleted(world.id('bob'), relabelled), 'alice', 'bob');
    expect(asBob.sent).toBe(false);
    expect(asBob.code).toBe('DELETION_UNVERIFIED');
    expect(asBob.message).toMatch(/DELETION_SIGNATURE_INVALID/);
  }, 60_000);

  it('once the relay stops lying, Bob is reachable as before', async () => {
    const honest = await world.cli('alice', ['send', world.id('bob'), 'still there']);
    expect(honest.code).toBe(0);
  }, 60_000);
});

describe('a relay that refuses a deletion, keeps the signed request and shows it', () => {
  let kept: DeletionResult;

  it('the owner is told the request may be shown, and advised to rotate the key', async () => {
    let statement: DeletionResult['statement'] | undefined;
    world.hostile.behave({
      answer(event, payload) {
        if (event !== 'delete-account') return undefined;
        statement = (payload as { statement: DeletionResult['statement'] }).statement;
        return { ok: false, error: { code: 'STALE_CREDENTIALS', message: 'Try again.' } };
      },
    });
    try {
      const refused = await world.cli('dave', ['delete-account', '--confirm', 'dave']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /did not delete the account, but it received your signed deletion request and may show it to your contacts[^\n]*metachat rotate-key/,
      );
    } finally {
      world.hostile.behave({});
    }
    expect(statement).toBeDefined();
    kept = {
      publicKey: (await pinOf('alice', 'dave'))?.publicKey ?? '',
      deletedAt: Date.now(),
      statement: statement as DeletionResult['statement'],
    };
  }, 60_000);

  it('shown alone, it verifies: said as a request, "asked to delete", never as a deletion', async () => {
    const { sent, code, message } = await sendThrough(
      claimDeleted(world.id('dave'), kept),
      'alice',
      'dave',
    );
    expect(sent).toBe(false);
    expect(code).toBe('ACCOUNT_DELETED');
    expect(message).toMatch(/asked to delete their account on .*\(signed by the key pinned here\)/);
    expect(message).not.toMatch(/deleted their account/);
  }, 60_000);

  it('a message Dave signs after it, in the relay’s page, shows the claim false: Dave is active again', async () => {
    expect((await world.cli('dave', ['send', world.id('alice'), 'still here, dave'])).code).toBe(0);
    const { result, sent } = await sendThrough(
      claimDeleted(world.id('dave'), kept),
      'alice',
      'dave',
    );
    expect(result.code).toBe(0);
    expect(sent).toBe(true);
    expect(result.stderr).toMatch(
      /shows .*signed request to delete it \(\d{4}-\d\d-\d\d\), but .* signed a message on \d{4}-\d\d-\d\d, after that request: the relay's claim is false[^\n]*shown as active/,
    );
  }, 60_000);

  it('the local history is evidence too, when the relay withholds its pages', async () => {
    expect((await world.cli('alice', ['history', world.id('dave')])).code).toBe(0);
    const lying = claimDeleted(world.id('dave'), kept);
    const withholding: Behaviour = {
      answer(event, payload, conn) {
        if (event === 'history') return { ok: true, packets: [], more: false };
        return lying.answer?.(event, payload, conn);
      },
    };
    const { result, sent } = await sendThrough(withholding, 'alice', 'dave');
    expect(result.code).toBe(0);
    expect(sent).toBe(true);
    expect(result.stderr).toMatch(/the relay's claim is false/);
  }, 60_000);
});
