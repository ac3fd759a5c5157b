import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newProfile, prepareRegistration } from '../../src/cli/account.js';
import { mergeJson } from '../../src/cli/merge-json.js';
import { loadProfile, saveProfile } from '../../src/cli/profile.js';
import { runCli } from '../support/cli-process.js';
import { tempDir } from '../support/relay-harness.js';

const PEER = 'b'.repeat(64);
const OTHER = 'c'.repeat(64);

describe('mergeJson', () => {
  it('keeps what only one side changed, merges objects key by key, and lets mine win a clash', () => {
    const base = { a: 1, b: { x: 1, y: 1 }, c: 'same', gone: true };
    const mine = { a: 2, b: { x: 2, y: 1 }, c: 'same', gone: true, added: 'mine' };
    const theirs = { a: 3, b: { x: 1, y: 3 }, c: 'theirs' };
    expect(mergeJson(base, mine, theirs)).toEqual({
      a: 2,
      b: { x: 2, y: 3 },
      c: 'theirs',
      added: 'mine',
    });
  });
});

describe('a profile shared by two processes', () => {
  it('keeps an alias set by another command while this one held the profile, and learns it', async () => {
    const home = await tempDir('metachat-home-');
    const { account } = await prepareRegistration('sharer', 'correct horse battery');
    const initial = newProfile(account, 'http://127.0.0.1:9', true);
    initial.peers[PEER] = { publicKey: account.keyPair.publicKey.encoded };
    await saveProfile(home, initial);

    // The chat screen holds the profile in memory...
    const held = await loadProfile(home);
    // ...while another terminal gives a peer a nickname.
    const alias = await runCli(['alias', PEER, 'bobby', '--home', home]);
    expect(alias.code).toBe(0);
    // The chat screen then saves what it changed itself.
    held.seenUpTo = 7;
    held.peers[OTHER] = { alias: 'carol' };
    await saveProfile(home, held);

    const disk = JSON.parse(await readFile(join(home, 'profile.json'), 'utf8')) as {
      seenUpTo: number;
      peers: Record<string, { alias?: string; publicKey?: string }>;
    };
    expect(disk.seenUpTo).toBe(7);
    expect(disk.peers[PEER]).toEqual({
      publicKey: account.keyPair.publicKey.encoded,
      alias: 'bobby',
    });
    expect(disk.peers[OTHER]).toEqual({ alias: 'carol' });
    expect(held.peers[PEER]?.alias).toBe('bobby');

    // The stream mark never moves back: another process read further.
    const other = await loadProfile(home);
    other.seenUpTo = 20;
    await saveProfile(home, other);
    held.seenUpTo = 9;
    await saveProfile(home, held);
    expect((await loadProfile(home)).seenUpTo).toBe(20);
  }, 30_000);
});
