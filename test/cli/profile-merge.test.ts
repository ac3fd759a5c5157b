import { describe, expect, it } from '@jest/globals';
import { rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newProfile, prepareRegistration } from '../../src/cli/relay/account.js';
import { KeyChangedError } from '../../src/cli/cli-errors.js';
import { peerKey } from '../../src/cli/profile/peers.js';
import { ProfileBusyError } from '../../src/cli/profile/profile-lock.js';
import { mergeProfiles, ProfileReplacedError } from '../../src/cli/profile/profile-merge.js';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';
import { loadProfile, saveProfile, type Profile } from '../../src/cli/profile/profile.js';
import { generateKeyPair } from '../../src/core/index.js';
import { runCli } from '../support/cli-process.js';
import { tempDir } from '../support/relay-harness.js';

const PEER = 'b'.repeat(64);
const OTHER = 'c'.repeat(64);
const { account } = await prepareRegistration('sharer', 'correct horse battery');
const [k1, k2, k3] = (await Promise.all([1, 2, 3].map(() => generateKeyPair()))).map(
  (pair) => pair.publicKey.encoded,
);

function profile(peers: Profile['peers'] = {}): Profile {
  return { ...newProfile(account, 'http://127.0.0.1:9', true), peers };
}

/** A profile on disk in a fresh home, as `register` leaves it. */
async function homeWith(initial: Profile): Promise<string> {
  const home = await tempDir('metachat-home-');
  await saveProfile(home, initial);
  return home;
}

describe('mergeProfiles', () => {
  it('takes a peer’s trust fields as one unit from the side that changed them', () => {
    const base = profile({ [PEER]: { publicKey: k1, changedKey: k2, shownKey: k2 } });
    const mine = profile({ [PEER]: { publicKey: k1, changedKey: k2, shownKey: k2, alias: 'bo' } });
    const theirs = profile({ [PEER]: { publicKey: k2, verified: true } });
    expect(mergeProfiles(base, mine, theirs).peers[PEER]).toEqual({
      publicKey: k2,
      verified: true,
      alias: 'bo',
    });
  });

  it('when both sides changed a peer’s key, an accepted key wins and the other is a change to look at', () => {
    // A long-running process pinned k1 on first use; another terminal verified k2 by fingerprint.
    expect(
      mergeProfiles(
        profile(),
        profile({ [PEER]: { publicKey: k1 } }),
        profile({ [PEER]: { publicKey: k2, verified: true, shownKey: k2 } }),
      ).peers[PEER],
    ).toEqual({ publicKey: k2, verified: true, changedKey: k1 });
    // One recorded a change to k3 while the other accepted k2: k2 stands, the pin k1 is a change.
    expect(
      mergeProfiles(
        profile({ [PEER]: { publicKey: k1, changedKey: k2, shownKey: k2 } }),
        profile({ [PEER]: { publicKey: k1, changedKey: k3 } }),
        profile({ [PEER]: { publicKey: k2, verified: true } }),
      ).peers[PEER],
    ).toEqual({ publicKey: k2, verified: true, changedKey: k1 });
    // Neither accepted anything new: the pin both started from stays.
    expect(
      mergeProfiles(
        profile({ [PEER]: { publicKey: k1 } }),
        profile({ [PEER]: { publicKey: k1, changedKey: k3 } }),
        profile({ [PEER]: { publicKey: k1, changedKey: k2, shownKey: k2 } }),
      ).peers[PEER],
    ).toEqual({ publicKey: k1, changedKey: k2 });
  });

  it('a verified mark inherited from before is no decision: a --trust given meanwhile wins', () => {
    const base = profile({
      [PEER]: { publicKey: k1, verified: true, changedKey: k2, shownKey: k2 },
    });
    const mine = profile({ [PEER]: { publicKey: k1, verified: true, changedKey: k3 } });
    const theirs = profile({ [PEER]: { publicKey: k2, verified: true } });
    expect(mergeProfiles(base, mine, theirs).peers[PEER]).toEqual({
      publicKey: k2,
      verified: true,
      changedKey: k1,
    });
    // A dispute lasts until one side settles it with --trust.
    const disputed = profile({ [PEER]: { publicKey: k1, changedKey: k2, disputed: true } });
    const looked = profile({
      [PEER]: { publicKey: k1, changedKey: k2, shownKey: k1, disputed: true },
    });
    const recorded = profile({ [PEER]: { publicKey: k1, changedKey: k3, disputed: true } });
    expect(mergeProfiles(disputed, recorded, looked).peers[PEER]?.disputed).toBe(true);
  });

  it('two different first-use pins are disputed: sending stops whatever the relay serves', async () => {
    const merged = mergeProfiles(
      profile(),
      profile({ [PEER]: { publicKey: k1 } }),
      profile({ [PEER]: { publicKey: k2 } }),
    );
    expect(merged.peers[PEER]).toEqual({ publicKey: k1, changedKey: k2, disputed: true });
    // Even a relay serving the pinned key does not settle it: only verify --trust does.
    const relay = {
      lookup: () => Promise.resolve({ publicKey: k1, rotations: [] }),
    } as unknown as RelayClient;
    await expect(peerKey(relay, merged, { identifier: PEER })).rejects.toThrow(KeyChangedError);
  });

  it('gives an alias to one peer only, mine first', () => {
    const merged = mergeProfiles(
      profile(),
      profile({ [PEER]: { alias: 'bob' } }),
      profile({ [OTHER]: { alias: 'bob' } }),
    );
    expect(merged.peers[PEER]?.alias).toBe('bob');
    expect(merged.peers[OTHER]?.alias).toBeUndefined();
  });

  it('moves the stream mark and read markers only forward, and keeps the packets both remember', () => {
    const base = { ...profile({ [PEER]: { readUpTo: 3 } }), seenUpTo: 5 };
    const mine = {
      ...profile({ [PEER]: { readUpTo: 4 } }),
      seenUpTo: 6,
      recentPackets: [[6, 'a'.repeat(32)]] as Profile['recentPackets'],
    };
    const theirs = {
      ...profile({ [PEER]: { readUpTo: 9 } }),
      seenUpTo: 9,
      recentPackets: [[9, 'f'.repeat(32)]] as Profile['recentPackets'],
    };
    const merged = mergeProfiles(base, mine, theirs);
    expect(merged.seenUpTo).toBe(9);
    expect(merged.peers[PEER]?.readUpTo).toBe(9);
    expect(merged.recentPackets).toEqual([
      [6, 'a'.repeat(32)],
      [9, 'f'.repeat(32)],
    ]);
  });

  it('refuses to mix two accounts (ProfileReplacedError)', async () => {
    const { account: other } = await prepareRegistration('someone-else', 'correct horse battery');
    const replaced = newProfile(other, 'http://127.0.0.1:9', true);
    expect(() => mergeProfiles(profile(), profile(), replaced)).toThrow(ProfileReplacedError);
  });
});

describe('a profile shared by two processes', () => {
  it('keeps an alias another command set while this one held the profile, and learns it', async () => {
    const home = await homeWith(profile({ [PEER]: { publicKey: k1 } }));
    const held = await loadProfile(home);
    expect((await runCli(['alias', PEER, 'bobby', '--home', home])).code).toBe(0);
    held.seenUpTo = 7;
    held.peers[OTHER] = { alias: 'carol' };
    await saveProfile(home, held);
    const disk = await loadProfile(home);
    expect(disk.seenUpTo).toBe(7);
    expect(disk.peers[PEER]).toEqual({ publicKey: k1, alias: 'bobby' });
    expect(disk.peers[OTHER]).toEqual({ alias: 'carol' });
    expect(held.peers[PEER]?.alias).toBe('bobby');
  }, 30_000);

  it('keeps what the caller changed while the save was reading the file', async () => {
    const home = await homeWith(profile());
    const held = await loadProfile(home);
    const saving = saveProfile(home, held);
    held.peers[PEER] = { publicKey: k1 };
    await saving;
    expect((await loadProfile(home)).peers[PEER]).toEqual({ publicKey: k1 });
    expect(held.peers[PEER]).toEqual({ publicKey: k1 });
  });

  it('does not bring back a profile another terminal logged out of', async () => {
    const home = await homeWith(profile());
    const held = await loadProfile(home);
    await rm(join(home, 'profile.json'));
    held.seenUpTo = 3;
    await saveProfile(home, held);
    await expect(stat(join(home, 'profile.json'))).rejects.toThrow(/ENOENT/);
  });

  it('two processes saving at the same moment both keep their change (the lock)', async () => {
    const home = await homeWith(profile());
    const [first, second] = [await loadProfile(home), await loadProfile(home)];
    first.peers[PEER] = { alias: 'one' };
    second.peers[OTHER] = { alias: 'two' };
    await Promise.all([saveProfile(home, first), saveProfile(home, second)]);
    const disk = await loadProfile(home);
    expect(disk.peers[PEER]?.alias).toBe('one');
    expect(disk.peers[OTHER]?.alias).toBe('two');
    await expect(stat(join(home, 'profile.json.lock'))).rejects.toThrow(/ENOENT/);
  });

  it('takes over a lock left by a process that died, and reports one held too long (ProfileBusyError)', async () => {
    const home = await homeWith(profile());
    const held = await loadProfile(home);
    const lock = join(home, 'profile.json.lock');
    await writeFile(lock, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    held.seenUpTo = 4;
    await saveProfile(home, held);
    expect((await loadProfile(home)).seenUpTo).toBe(4);
    // A lock whose process is gone is taken over at once.
    await writeFile(lock, '2147483646');
    held.seenUpTo = 5;
    await saveProfile(home, held);
    expect((await loadProfile(home)).seenUpTo).toBe(5);
    // A live holder that never lets go: the save gives up with a clear error, nothing written.
    await writeFile(lock, String(process.pid));
    held.seenUpTo = 6;
    await expect(saveProfile(home, held)).rejects.toThrow(ProfileBusyError);
    expect((await loadProfile(home)).seenUpTo).toBe(5);
  }, 30_000);
});
