// What a profile's open local history can vouch for, reachable without loading the native store.

import type { Profile } from '../profile/profile.js';

/** The part of an open history that checks a relay's claim about a peer. */
export interface PeerEvidence {
  /** The sender's time of the newest message from `sender` this history keeps (each verified when kept). */
  newestFrom(sender: string): number | undefined;
}

const open = new WeakMap<Profile, PeerEvidence>();

/** Records (or, with undefined, forgets) the open history of a profile. */
export function setHistoryEvidence(profile: Profile, history: PeerEvidence | undefined): void {
  if (history === undefined) open.delete(profile);
  else open.set(profile, history);
}

/** The open history of a profile, if a command opened one. */
export function historyEvidence(profile: Profile): PeerEvidence | undefined {
  return open.get(profile);
}
