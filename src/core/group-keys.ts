import { GroupKeyMismatchError, MetaChatError } from './errors.js';
import { followRotations } from './key-rotation.js';
import { importPublicKey, type PublicKey } from './keys.js';

/**
 * A key a member replaced by a key rotation (section 5b) that this verifier checked: it still
 * stands for the member for what is dated at or before `until` (the rotation's time).
 */
export interface ReplacedMemberKey {
  readonly key: PublicKey;
  readonly until: number;
}

/**
 * The keys a verifier knows an identifier replaced, newest first, from its own store (the rotations
 * a client followed, the relay's own records): each reached its successor by a verified statement,
 * the newest the key the lookup gives now.
 */
export type GroupReplacedKeys = (identifier: string) => readonly ReplacedMemberKey[];

/** For a verifier that knows of no replaced keys. */
export const NO_REPLACED_KEYS: GroupReplacedKeys = () => [];

/** Who the members are and which key the log names for each, in the same order. */
export interface GroupKeyBinding {
  /** Members, ascending. */
  readonly members: readonly string[];
  /** SHA-256 of each member's SPKI (section 3), as the entry that brought it in recorded it. */
  readonly fingerprints: readonly string[];
}

/** The fingerprint the log names for a member (undefined for a non-member): what a client pins. */
export function groupMemberFingerprint(
  binding: GroupKeyBinding,
  identifier: string,
): string | undefined {
  const position = binding.members.indexOf(identifier);
  return position < 0 ? undefined : binding.fingerprints[position];
}

/**
 * Whether `key` may stand for a member whose log entry names `logged` (section 16.1): the same key,
 * or one reached from the logged key by the verified rotations `replaced` (the keys `key` replaced,
 * newest first): the logged key's holder signed the hand-over, so no relay can make one up.
 */
export function keyMatchesLogged(
  logged: string,
  key: PublicKey,
  replaced: readonly ReplacedMemberKey[] = [],
): boolean {
  return key.fingerprint === logged || replaced.some((r) => r.key.fingerprint === logged);
}

/**
 * The key that made a signature for a member: its current key, else one it replaced, only for
 * what is dated at or before that rotation (`time`), as for packets (section 5b). Returns the key
 * and the keys it had itself replaced (for keyMatchesLogged), or undefined if none verifies.
 */
export function memberSigningKey(
  current: PublicKey,
  replaced: readonly ReplacedMemberKey[],
  time: number,
  verifies: (key: PublicKey) => boolean,
): { key: PublicKey; replaced: readonly ReplacedMemberKey[] } | undefined {
  if (verifies(current)) return { key: current, replaced };
  for (let i = 0; i < replaced.length; i++) {
    const older = replaced[i];
    if (older !== undefined && time <= older.until && verifies(older.key))
      return { key: older.key, replaced: replaced.slice(i + 1) };
  }
  return undefined;
}

/**
 * The keys an identifier replaced along a rotation chain a relay served with its key `current`
 * (section 5b), newest first: every statement verified and linked, the last one's new key
 * `current`; a chain that does not verify gives none (the logged key then does not match).
 */
export function replacedKeysFromChain(
  identifier: string,
  current: PublicKey,
  chain: readonly unknown[],
): ReplacedMemberKey[] {
  const first = chain[0];
  if (first === undefined) return [];
  try {
    const oldest = importPublicKey((first as { oldKey?: unknown }).oldKey);
    const { steps } = followRotations(identifier, oldest, current, chain);
    return [...steps].reverse().map((s) => ({ key: importPublicKey(s.oldKey), until: s.time }));
  } catch (error) {
    if (error instanceof MetaChatError) return [];
    throw error;
  }
}

/**
 * Refuses to use a key for a member unless it is the one the group log names for that member
 * (GROUP_KEY_MISMATCH); `role` says in the message whose key it is and who blocks.
 */
export function assertGroupMemberKey(
  binding: GroupKeyBinding,
  identifier: string,
  key: PublicKey,
  role: string,
  replaced: readonly ReplacedMemberKey[] = [],
): void {
  const logged = groupMemberFingerprint(binding, identifier);
  if (logged !== undefined && !keyMatchesLogged(logged, key, replaced)) {
    throw new GroupKeyMismatchError(
      `The key this device holds for ${role} ${identifier.slice(0, 16)}… (fingerprint ${key.fingerprint.slice(0, 16)}…) is not the one the group log names for them (${logged.slice(0, 16)}…, recorded by the admin who added them). Compare safety numbers with them and with that admin; until then nothing is encrypted for them or accepted from them in this group.`,
    );
  }
}

/**
 * A member's own check that the log names its own key (section 16.1): a newcomer whose add names
 * another key was added with a key the relay substituted at the admin (GROUP_KEY_MISMATCH).
 */
export function assertGroupNamesMyKey(
  binding: GroupKeyBinding,
  me: {
    readonly identifier: string;
    readonly publicKey: PublicKey;
    readonly replaced?: readonly ReplacedMemberKey[];
  },
): void {
  const logged = groupMemberFingerprint(binding, me.identifier);
  if (logged !== undefined && !keyMatchesLogged(logged, me.publicKey, me.replaced)) {
    throw new GroupKeyMismatchError(
      `The group log names another key for you (${logged.slice(0, 16)}…) than your own (${me.publicKey.fingerprint.slice(0, 16)}…): whoever added you was given a wrong key for you, and the others encrypt for it. Compare safety numbers with that admin; do not write to this group until it is fixed.`,
    );
  }
}
