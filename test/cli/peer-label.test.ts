import { describe, expect, it } from '@jest/globals';
import { LOOKALIKE_DIGITS, peerLabels, SHORT_ID_DIGITS } from '../../src/cli/stream/peer-label.js';
import type { Profile } from '../../src/cli/profile/profile.js';

const ME = 'a'.repeat(64);
const BOB = `3fa9c2d81b7e${'1'.repeat(52)}`;

function profile(peers: Profile['peers']): Profile {
  return { identifier: ME, peers } as unknown as Profile;
}

function lookalike(of: string, shared: number, tail = '9'): string {
  return `${of.slice(0, shared)}${tail.repeat(64 - shared)}`;
}

describe('peer labels: no two peers ever look the same', () => {
  it('shows an unnamed peer by a short identifier of at least 80 bits', () => {
    const label = peerLabels(profile({ [BOB]: {} })).get(BOB);
    expect(label?.name).toBe(`${BOB.slice(0, SHORT_ID_DIGITS)}…`);
    expect(label?.lookalike).toBeUndefined();
  });

  it('makes short identifiers longer until they differ, and flags the stranger that imitates a contact', () => {
    const fake = lookalike(BOB, 50);
    const labels = peerLabels(profile({ [BOB]: { helloSent: true }, [fake]: {} }));
    const [bob, mallory] = [labels.get(BOB), labels.get(fake)];
    expect(bob?.name).toBe(`${BOB.slice(0, 51)}…`);
    expect(mallory?.name).toBe(`${fake.slice(0, 51)}…`);
    expect(mallory?.lookalike).toBe(bob?.name);
    expect(bob?.lookalike).toBeUndefined();
  });

  it(`flags identifiers sharing only the first ${LOOKALIKE_DIGITS} digits, and not fewer`, () => {
    const close = lookalike(BOB, LOOKALIKE_DIGITS);
    const far = lookalike(BOB, LOOKALIKE_DIGITS - 1);
    const labels = peerLabels(profile({ [BOB]: { alias: 'bob' }, [close]: {}, [far]: {} }));
    expect(labels.get(close)?.lookalike).toBe('bob');
    expect(labels.get(far)?.lookalike).toBeUndefined();
  });

  it('flags both when neither is a contact', () => {
    const fake = lookalike(BOB, 30);
    const labels = peerLabels(profile({ [BOB]: {}, [fake]: {} }));
    expect(labels.get(BOB)?.lookalike).toBe(labels.get(fake)?.name);
    expect(labels.get(fake)?.lookalike).toBe(labels.get(BOB)?.name);
  });

  it('appends the short identifier to a name two peers share (an alias and a proven username)', () => {
    const carol = 'c'.repeat(64);
    const labels = peerLabels(profile({ [BOB]: { alias: 'bob' }, [carol]: { username: 'bob' } }));
    expect(labels.get(BOB)?.name).toBe(`bob (${BOB.slice(0, SHORT_ID_DIGITS)}…)`);
    expect(labels.get(carol)?.name).toBe(`bob (${carol.slice(0, SHORT_ID_DIGITS)}…)`);
    expect(labels.get(carol)?.lookalike).toBe(labels.get(BOB)?.name);
  });

  it('flags a username made of hex digits that imitates a contact’s short identifier', () => {
    const carol = 'c'.repeat(64);
    const labels = peerLabels(
      profile({ [BOB]: { alias: 'bob' }, [carol]: { username: BOB.slice(0, SHORT_ID_DIGITS) } }),
    );
    expect(labels.get(carol)?.lookalike).toBe('bob');
  });

  it('sanitises names for the terminal and keeps my own notes apart', () => {
    const labels = peerLabels(profile({ [BOB]: { alias: 'bo\u202eb' } }));
    expect(labels.get(BOB)?.name).toBe('bo\ufffdb');
    expect(labels.get(ME)?.name).toBe('me (notes)');
  });

  it('labels a thousand peers quickly enough to redraw (sorted, not pairwise)', () => {
    const peers: Profile['peers'] = {};
    for (let i = 0; i < 1000; i++) peers[i.toString(16).padStart(64, '0')] = {};
    const labels = peerLabels(profile(peers));
    expect(new Set([...labels.values()].map((label) => label.name)).size).toBe(labels.size);
  });
});
