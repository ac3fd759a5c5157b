import { GroupKeyMismatchError } from './errors.js';
import type { PublicKey } from './keys.js';

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
 * Whether `key` may stand for a member whose log entry names `logged`. Today: the same key. This
 * is the one place a key rotation (issue 14) will hook in: a verified chain of rotation statements
 * from the logged fingerprint to `key` will be accepted here.
 */
export function keyMatchesLogged(logged: string, key: PublicKey): boolean {
  return key.fingerprint === logged;
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
): void {
  const logged = groupMemberFingerprint(binding, identifier);
  if (logged !== undefined && !keyMatchesLogged(logged, key)) {
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
  me: { readonly identifier: string; readonly publicKey: PublicKey },
): void {
  const logged = groupMemberFingerprint(binding, me.identifier);
  if (logged !== undefined && !keyMatchesLogged(logged, me.publicKey)) {
    throw new GroupKeyMismatchError(
      `The group log names another key for you (${logged.slice(0, 16)}…) than your own (${me.publicKey.fingerprint.slice(0, 16)}…): whoever added you was given a wrong key for you, and the others encrypt for it. Compare safety numbers with that admin; do not write to this group until it is fixed.`,
    );
  }
}
