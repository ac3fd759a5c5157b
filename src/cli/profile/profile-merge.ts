import { MAX_PROFILE_GROUP_BYTES, profileGroupBytes } from './group-budget.js';
import { isDeepStrictEqual } from 'node:util';
import { groupEntryHash } from '../../core/index.js';
import {
  MAX_PROFILE_GROUPS,
  type GroupRecord,
  type PeerRecord,
  type Profile,
} from './profile-schema.js';
import { REMEMBERED_PACKETS, type RememberedPacket } from '../stream/stream-guard.js';

/** Another login replaced the profile this process was using: merging would mix two accounts. */
export class ProfileReplacedError extends Error {
  override readonly name = 'ProfileReplacedError';
}

/** The fields that decide which key a peer's messages are sealed to and checked against. */
const TRUST_FIELDS = [
  'publicKey',
  'changedKey',
  'shownKey',
  'verified',
  'disputed',
  'replacedKeys',
  'rotation',
] as const;
type Trust = Pick<PeerRecord, (typeof TRUST_FIELDS)[number]>;

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const key of keys) if (value[key] !== undefined) picked[key] = value[key];
  return picked;
}

/** Three-way choice for one value: whichever side changed it since `base`; `mine` if both did. */
function choose<T>(base: T, mine: T, theirs: T): T {
  return isDeepStrictEqual(mine, base) ? theirs : mine;
}

/** A trust record with only the fields that are set. */
function trust(fields: Trust): Trust {
  return pick(fields, TRUST_FIELDS);
}

/**
 * A peer's trust fields move as one unit: taking the key from one process and "verified" from
 * another could vouch for a key nobody compared. When both changed them: a key the user accepted
 * (verified) wins over one pinned on first use, with the other recorded as a change; otherwise the
 * pin both started from stays. Anything else (two first-use pins, two accepted keys) is disputed:
 * sending stops until `verify --trust`, whatever the relay serves.
 */
function mergeTrust(base: Trust, mine: Trust, theirs: Trust): Trust {
  if (isDeepStrictEqual(mine, base) || isDeepStrictEqual(mine, theirs)) return theirs;
  if (isDeepStrictEqual(theirs, base)) return mine;
  const otherThan = (key: string | undefined, ...sides: Trust[]) =>
    sides
      .flatMap((side) => [side.publicKey, side.changedKey])
      .find((candidate) => candidate !== undefined && candidate !== key);
  // A side that ran `verify --trust` since `base`: a verified mark inherited from base is no decision.
  const decided = (side: Trust) =>
    side.verified === true &&
    side.disputed !== true &&
    (side.publicKey !== base.publicKey || base.verified !== true || base.disputed === true);
  const [mineDecided, theirsDecided] = [decided(mine), decided(theirs)];
  const stillDisputed =
    !mineDecided &&
    !theirsDecided &&
    (base.disputed === true || mine.disputed === true || theirs.disputed === true);
  if (mine.publicKey === theirs.publicKey) {
    return trust({
      publicKey: mine.publicKey,
      changedKey: theirs.changedKey ?? mine.changedKey,
      verified: mine.verified === true || theirs.verified === true ? true : undefined,
      disputed: stillDisputed ? true : undefined,
      replacedKeys: mine.replacedKeys ?? theirs.replacedKeys,
      rotation: mine.rotation ?? theirs.rotation,
    });
  }
  if (mineDecided !== theirsDecided) {
    const [kept, other] = mineDecided ? [mine, theirs] : [theirs, mine];
    return trust({
      publicKey: kept.publicKey,
      verified: true,
      changedKey: otherThan(kept.publicKey, other),
    });
  }
  if (!mineDecided && base.publicKey !== undefined) {
    return trust({
      publicKey: base.publicKey,
      verified: base.verified,
      changedKey: otherThan(base.publicKey, mine, theirs),
      disputed: stillDisputed ? true : undefined,
    });
  }
  const key = mine.publicKey ?? theirs.publicKey;
  const other = otherThan(key, theirs, mine);
  return trust({
    publicKey: key,
    changedKey: other,
    disputed: other === undefined ? undefined : true,
  });
}

function mergePeer(
  base: PeerRecord | undefined,
  mine: PeerRecord | undefined,
  theirs: PeerRecord | undefined,
): PeerRecord {
  const [b, m, t] = [base ?? {}, mine ?? {}, theirs ?? {}];
  const merged: PeerRecord = {
    ...mergeTrust(pick(b, TRUST_FIELDS), pick(m, TRUST_FIELDS), pick(t, TRUST_FIELDS)),
  };
  for (const field of ['alias', 'username', 'helloSent'] as const) {
    const value = choose(b[field], m[field], t[field]);
    if (value !== undefined) (merged as Record<string, unknown>)[field] = value;
  }
  const readUpTo = Math.max(m.readUpTo ?? 0, t.readUpTo ?? 0);
  if (readUpTo > 0) merged.readUpTo = readUpTo;
  return merged;
}

/** The last packets either side remembers, by position, without repeats. */
function mergeRemembered(
  mine: readonly RememberedPacket[] = [],
  theirs: readonly RememberedPacket[] = [],
): RememberedPacket[] {
  const byId = new Map<string, number>();
  for (const [seq, id] of [...theirs, ...mine]) byId.set(id, seq);
  return [...byId]
    .map(([id, seq]): RememberedPacket => [seq, id])
    .sort((a, b) => a[0] - b[0])
    .slice(-REMEMBERED_PACKETS);
}

/** Whether the longer record's log holds the shorter one's last entry at its place (so all before it). */
function extendsLog(longer: GroupRecord, shorter: GroupRecord): boolean {
  const last = shorter.entries.length - 1;
  const theirs = longer.entries[last];
  const mine = shorter.entries[last];
  return (
    theirs !== undefined && mine !== undefined && groupEntryHash(theirs) === groupEntryHash(mine)
  );
}

/**
 * Two processes' logs of one group: the longer one if it extends the other (both were verified
 * from this device's head, so it is the other one later); if they disagree, the one on disk stays
 * (the relay forked them; this device's next fetch from the relay finds out).
 */
function mergeGroupRecord(
  mine: GroupRecord | undefined,
  theirs: GroupRecord | undefined,
): GroupRecord | undefined {
  if (mine === undefined || theirs === undefined) return mine ?? theirs;
  return withMarks(pickGroupLog(mine, theirs), mine, theirs);
}

/** The log (and name) of two records of one group: see mergeGroupRecord. */
function pickGroupLog(mine: GroupRecord, theirs: GroupRecord): GroupRecord {
  if (!extendsLog(mine, theirs) && !extendsLog(theirs, mine)) return theirs;
  if (mine.entries.length !== theirs.entries.length)
    return mine.entries.length > theirs.entries.length ? mine : theirs;
  return mine.name === undefined ? theirs : mine;
}

/** The read marker and the hello mark of a group: the later of the two processes'. */
function withMarks(record: GroupRecord, mine: GroupRecord, theirs: GroupRecord): GroupRecord {
  const { readUpTo: _r, helloAt: _h, ...rest } = record;
  const readUpTo = Math.max(mine.readUpTo ?? 0, theirs.readUpTo ?? 0);
  const helloAt = Math.max(mine.helloAt ?? -1, theirs.helloAt ?? -1);
  return {
    ...rest,
    ...(readUpTo > 0 ? { readUpTo } : {}),
    ...(helloAt >= 0 ? { helloAt } : {}),
  };
}

/**
 * Every group either side holds, each log merged (mergeGroupRecord), but for those this process
 * dropped since it read the profile (a stranger's group that gave way, or one whose log does not
 * list this account): they stay dropped.
 */
function mergeGroups(base: Profile, mine: Profile, theirs: Profile): Profile['groups'] {
  if (mine.groups === undefined && theirs.groups === undefined) return undefined;
  const groups: NonNullable<Profile['groups']> = {};
  const dropped = (id: string) =>
    base.groups?.[id] !== undefined && mine.groups?.[id] === undefined;
  for (const id of new Set([
    ...Object.keys(mine.groups ?? {}),
    ...Object.keys(theirs.groups ?? {}),
  ])) {
    if (dropped(id)) continue;
    const merged = mergeGroupRecord(mine.groups?.[id], theirs.groups?.[id]);
    if (merged !== undefined) groups[id] = merged;
  }
  // Two processes that each took in new groups up to the bound: this one's stay, as it counted them.
  const over =
    Object.keys(groups).length > MAX_PROFILE_GROUPS ||
    profileGroupBytes({ ...mine, groups }) > MAX_PROFILE_GROUP_BYTES;
  return over ? mine.groups : groups;
}

/**
 * Merges what this process changed since it read the profile (`base` → `mine`) with what another
 * process wrote meanwhile (`theirs`), so that a `verify --trust` or `alias` in another terminal
 * survives the chat screen's next save. The stream mark and read markers only move forward.
 */
export function mergeProfiles(base: Profile, mine: Profile, theirs: Profile): Profile {
  if (theirs.identifier !== base.identifier || theirs.publicKey !== base.publicKey) {
    throw new ProfileReplacedError(
      'Another login replaced this profile while it was open; restart metachat to use the new account.',
    );
  }
  const peers: Profile['peers'] = {};
  for (const id of new Set([...Object.keys(mine.peers), ...Object.keys(theirs.peers)])) {
    peers[id] = mergePeer(base.peers[id], mine.peers[id], theirs.peers[id]);
  }
  // An alias names one peer: if both sides gave the same one to different peers, mine keeps it.
  const owner = new Map<string, string>();
  for (const [id, peer] of Object.entries(peers)) {
    if (peer.alias === undefined) continue;
    const holder = owner.get(peer.alias);
    if (holder === undefined || mine.peers[id]?.alias === peer.alias) owner.set(peer.alias, id);
  }
  for (const [id, peer] of Object.entries(peers)) {
    if (peer.alias !== undefined && owner.get(peer.alias) !== id) delete peer.alias;
  }
  const recentPackets = mergeRemembered(mine.recentPackets, theirs.recentPackets);
  // The password settings of the newest credentials change win (passwd in another process).
  const credentials =
    (theirs.credentialsGeneration ?? 0) > (mine.credentialsGeneration ?? 0) ? theirs : mine;
  const merged: Profile = {
    ...mine,
    wrappedPrivateKey: credentials.wrappedPrivateKey,
    kdf: credentials.kdf,
    server: choose(base.server, mine.server, theirs.server),
    shareUsername: choose(base.shareUsername, mine.shareUsername, theirs.shareUsername),
    seenUpTo: Math.max(mine.seenUpTo, theirs.seenUpTo),
    peers,
  };
  const groups = mergeGroups(base, mine, theirs);
  if (groups === undefined) delete merged.groups;
  else merged.groups = groups;
  const bell = choose(base.bell, mine.bell, theirs.bell);
  if (bell === undefined) delete merged.bell;
  else merged.bell = bell;
  if (recentPackets.length > 0) merged.recentPackets = recentPackets;
  if (credentials.credentialsGeneration !== undefined)
    merged.credentialsGeneration = credentials.credentialsGeneration;
  // The history key is wrapped under the password too: a wrap made under the KDF settings now in
  // force; of two made at once, the one on disk stays (the other was never used to write).
  const usable = (side: Profile) =>
    isDeepStrictEqual(side.kdf, credentials.kdf) ? side.historyKey : undefined;
  const historyKey = usable(theirs) ?? usable(mine);
  if (historyKey === undefined) delete merged.historyKey;
  else merged.historyKey = historyKey;
  // Replaced keys are wrapped under the same password as the current key: they go together.
  if (credentials.replacedKeys === undefined) delete merged.replacedKeys;
  else merged.replacedKeys = credentials.replacedKeys;
  return merged;
}
