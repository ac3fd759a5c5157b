import type { Profile } from '../profile/profile.js';
import { oneLine } from '../terminal/terminal-text.js';

/**
 * Hex digits a short identifier shows at least: 80 bits. Were identifiers always SHA-256 of a
 * username, matching 80 bits would take about 2^80 hashes; but the relay cannot check that, so anyone
 * may register an identifier sharing any prefix with a victim's. Hence the short form is also made
 * longer until it differs from every other peer this device knows, and look-alikes are flagged.
 */
export const SHORT_ID_DIGITS = 20;

/** Two peers whose identifiers (or a name and an identifier) share this many leading digits look alike. */
export const LOOKALIKE_DIGITS = 8;

/** How a peer is shown: a name no other peer shares, and the contact it resembles, if any. */
export interface PeerLabel {
  /** Local alias, else the username the peer proved, else a short identifier; never shared by two peers. */
  readonly name: string;
  /** The shortest prefix of the identifier that no other known peer shares (at least SHORT_ID_DIGITS). */
  readonly shortId: string;
  /** Set when this peer looks like another one: that one's name. Shown as a warning. */
  readonly lookalike?: string;
}

function commonPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && a[n] === b[n]) n++;
  return n;
}

/** A peer the user chose: aliased, verified, or written to. A stranger resembling one is flagged. */
function isContact(profile: Profile, identifier: string): boolean {
  const peer = profile.peers[identifier];
  return peer?.alias !== undefined || peer?.verified === true || peer?.helloSent === true;
}

/** How two names compare: case and compatibility forms folded. */
function fold(name: string): string {
  return name.normalize('NFKC').toLowerCase();
}

/**
 * Labels for every peer the profile knows and every identifier given (the conversations on screen),
 * so that no two different peers ever look the same: names two peers share get the short identifier
 * appended, short identifiers are as long as it takes to differ, and a peer whose identifier (or name)
 * resembles another's first LOOKALIKE_DIGITS digits is flagged: the stranger when the other is a
 * contact, else both. Sorting makes it O(n log n) for n peers.
 */
export function peerLabels(profile: Profile, extra: Iterable<string> = []): Map<string, PeerLabel> {
  const ids = [...new Set([profile.identifier, ...Object.keys(profile.peers), ...extra])].sort();
  const shortOf = new Map<string, string>();
  const resembles = new Map<string, Set<string>>();
  const link = (a: string, b: string) => {
    if (a === profile.identifier || b === profile.identifier) return;
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const set = resembles.get(x) ?? new Set<string>();
      set.add(y);
      resembles.set(x, set);
    }
  };
  ids.forEach((id, index) => {
    const before = ids[index - 1];
    const after = ids[index + 1];
    const shared = Math.max(
      before === undefined ? 0 : commonPrefix(id, before),
      after === undefined ? 0 : commonPrefix(id, after),
    );
    const digits = Math.max(SHORT_ID_DIGITS, shared + 1);
    shortOf.set(id, digits >= id.length ? id : `${id.slice(0, digits)}…`);
    // Sorted order puts every identifier sharing a prefix next to each other.
    for (let j = index + 1; j < ids.length; j++) {
      const other = ids[j];
      if (other === undefined || commonPrefix(id, other) < LOOKALIKE_DIGITS) break;
      link(id, other);
    }
  });
  const base = new Map<string, string>();
  for (const id of ids) {
    const peer = profile.peers[id];
    const name =
      id === profile.identifier
        ? 'me (notes)'
        : peer?.alias !== undefined || peer?.username !== undefined
          ? oneLine(peer.alias ?? peer.username ?? '')
          : (shortOf.get(id) ?? id);
    base.set(id, name);
    // A name made of hex digits may imitate another peer's short identifier.
    const hex = /^[0-9a-f]+/.exec(fold(name))?.[0] ?? '';
    if (name !== shortOf.get(id) && hex.length >= LOOKALIKE_DIGITS) {
      for (const other of ids)
        if (other !== id && other.startsWith(hex.slice(0, LOOKALIKE_DIGITS))) link(id, other);
    }
  }
  const byName = new Map<string, string[]>();
  for (const [id, name] of base) {
    const key = fold(name);
    byName.set(key, [...(byName.get(key) ?? []), id]);
  }
  const names = new Map<string, string>();
  for (const [id, name] of base) {
    const sharing = byName.get(fold(name)) ?? [];
    if (sharing.length > 1) {
      for (const other of sharing) if (other !== id) link(id, other);
      names.set(id, name === shortOf.get(id) ? name : `${name} (${shortOf.get(id) ?? id})`);
    } else names.set(id, name);
  }
  const labels = new Map<string, PeerLabel>();
  for (const id of ids) {
    const name = names.get(id) ?? id;
    const shortId = shortOf.get(id) ?? id;
    const similar = [...(resembles.get(id) ?? [])];
    const contacts = similar.filter((other) => isContact(profile, other));
    // A stranger resembling anyone is flagged; a contact only when it resembles another contact.
    const other = isContact(profile, id) ? contacts[0] : (contacts[0] ?? similar[0]);
    const lookalike = other === undefined ? undefined : names.get(other);
    labels.set(id, lookalike === undefined ? { name, shortId } : { name, shortId, lookalike });
  }
  return labels;
}

/** The label of one peer, among all the profile knows (and `extra`). */
export function peerLabel(
  profile: Profile,
  identifier: string,
  extra: Iterable<string> = [],
): PeerLabel {
  return (
    peerLabels(profile, [identifier, ...extra]).get(identifier) ?? {
      name: identifier,
      shortId: identifier,
    }
  );
}
