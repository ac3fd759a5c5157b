/** The stable failure codes of protocol v1; they cross the wire in error acknowledgements. */
export const ERROR_CODES = [
  'INVALID_USERNAME',
  'WEAK_PASSWORD',
  'MALFORMED_ENCODING',
  'MALFORMED_INPUT',
  'OVERSIZE',
  'UNSUPPORTED_VERSION',
  'INVALID_KEY',
  'KEY_MISMATCH',
  'SIGNATURE_INVALID',
  'SENDER_MISMATCH',
  'USERNAME_MISMATCH',
  'AUTH_PROOF_INVALID',
  'NOT_ADDRESSED_TO_ME',
  'DECRYPTION_FAILED',
  'MALFORMED_BODY',
  'WRONG_PASSWORD',
  'KDF_BELOW_FLOOR',
  'KDF_ABOVE_CEILING',
  'CREDENTIALS_SIGNATURE_INVALID',
  'CREDENTIALS_ROLLED_BACK',
  'GROUP_CHAIN_BROKEN',
  'GROUP_FORKED',
  'GROUP_ROLLBACK',
  'GROUP_HEAD_UNKNOWN',
  'GROUP_NOT_MEMBER',
  'GROUP_NOT_ADMIN',
  'GROUP_MEMBERSHIP_INVALID',
  'GROUP_FULL',
  'GROUP_SENDER_REMOVED',
  'GROUP_KEY_MISMATCH',
  'ROTATION_OLD_SIGNATURE_INVALID',
  'ROTATION_NEW_SIGNATURE_INVALID',
  'ROTATION_IDENTIFIER_MISMATCH',
  'ROTATION_CHAIN_BROKEN',
  'ROTATION_ROLLED_BACK',
  'DELETION_SIGNATURE_INVALID',
  'EDIT_FORBIDDEN',
  'EDIT_CONVERSATION_MISMATCH',
  'EDIT_TARGET_INVALID',
] as const;

/** One failure of the protocol, as named on the wire and in docs/protocol.md. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base of every protocol failure, so callers can catch them all and still read a stable code. */
export abstract class MetaChatError extends Error {
  abstract readonly code: ErrorCode | RelayErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A username outside the allowed charset or length, after normalization. */
export class InvalidUsernameError extends MetaChatError {
  override readonly code = 'INVALID_USERNAME';
}

/** A password too short (or too long) to be accepted at registration. */
export class WeakPasswordError extends MetaChatError {
  override readonly code = 'WEAK_PASSWORD';
}

/** Bytes that are not canonical base64, lowercase hex or valid UTF-8. */
export class MalformedEncodingError extends MetaChatError {
  override readonly code = 'MALFORMED_ENCODING';
}

/** A wire object with a wrong type, a missing or an extra field. */
export class MalformedInputError extends MetaChatError {
  override readonly code = 'MALFORMED_INPUT';
}

/** A value over its size limit (text body, packet, key, string). */
export class OversizeError extends MetaChatError {
  override readonly code = 'OVERSIZE';
}

/** A protocol version this implementation does not speak. */
export class UnsupportedVersionError extends MetaChatError {
  override readonly code = 'UNSUPPORTED_VERSION';
}

/** A key that does not parse, or is not RSA-2048 with e = 65537. */
export class InvalidKeyError extends MetaChatError {
  override readonly code = 'INVALID_KEY';
}

/** A private key that does not belong to the public key it was paired with. */
export class KeyMismatchError extends MetaChatError {
  override readonly code = 'KEY_MISMATCH';
}

/** A packet whose signature does not verify under the sender's key: forged or altered. */
export class SignatureInvalidError extends MetaChatError {
  override readonly code = 'SIGNATURE_INVALID';
}

/** A packet whose claimed sender is not the one the reader expected (and holds a key for). */
export class SenderMismatchError extends MetaChatError {
  override readonly code = 'SENDER_MISMATCH';
}

/** A username exchange whose name does not hash to the sender's identifier: a lie, never shown. */
export class UsernameMismatchError extends MetaChatError {
  override readonly code = 'USERNAME_MISMATCH';
}

/** A socket-authentication proof that does not verify for this nonce and identifier. */
export class AuthProofInvalidError extends MetaChatError {
  override readonly code = 'AUTH_PROOF_INVALID';
}

/** An authentic packet that the reader is neither the sender nor the recipient of. */
export class NotAddressedToMeError extends MetaChatError {
  override readonly code = 'NOT_ADDRESSED_TO_ME';
}

/** A signed packet whose message key or ciphertext does not decrypt for the reader. */
export class DecryptionFailedError extends MetaChatError {
  override readonly code = 'DECRYPTION_FAILED';
}

/** A decrypted body that is not a valid v1 body structure. */
export class MalformedBodyError extends MetaChatError {
  override readonly code = 'MALFORMED_BODY';
}

/** A password that does not unwrap the private key. */
export class WrongPasswordError extends MetaChatError {
  override readonly code = 'WRONG_PASSWORD';
}

/** KDF parameters weaker than the floor, from whatever source: refused before deriving. */
export class KdfBelowFloorError extends MetaChatError {
  override readonly code = 'KDF_BELOW_FLOOR';
}

/** KDF parameters so costly that deriving would hang the client: refused before deriving. */
export class KdfAboveCeilingError extends MetaChatError {
  override readonly code = 'KDF_ABOVE_CEILING';
}

/** A relay served password settings (KDF, wrap) that the account key did not sign. */
export class CredentialsSignatureInvalidError extends MetaChatError {
  override readonly code = 'CREDENTIALS_SIGNATURE_INVALID';
}

/** A relay served password settings older than ones this device already saw (a replayed wrap). */
export class CredentialsRolledBackError extends MetaChatError {
  override readonly code = 'CREDENTIALS_ROLLED_BACK';
}

/** A group log whose entries do not link: wrong group, index or previous hash, or no create first. */
export class GroupChainBrokenError extends MetaChatError {
  override readonly code = 'GROUP_CHAIN_BROKEN';
}

/** A group log (or a member's message) that disagrees with the log this device verified, at the same place. */
export class GroupForkedError extends MetaChatError {
  override readonly code = 'GROUP_FORKED';
}

/** A group log shorter than the one this device already verified: the relay hides entries. */
export class GroupRolledBackError extends MetaChatError {
  override readonly code = 'GROUP_ROLLBACK';
}

/** A group message for a log head this device does not hold, even after fetching the log. */
export class GroupHeadUnknownError extends MetaChatError {
  override readonly code = 'GROUP_HEAD_UNKNOWN';
}

/** A group entry or message by someone who is not a member at that point of the log. */
export class GroupNotMemberError extends MetaChatError {
  override readonly code = 'GROUP_NOT_MEMBER';
}

/** A group entry that only an admin may sign (add, remove, rename, set admins), by a non-admin. */
export class GroupNotAdminError extends MetaChatError {
  override readonly code = 'GROUP_NOT_ADMIN';
}

/** A group change that contradicts the membership (adding a member, removing a stranger, ...). */
export class GroupMembershipInvalidError extends MetaChatError {
  override readonly code = 'GROUP_MEMBERSHIP_INVALID';
}

/** A group at its member bound, or a log at its entry bound: nothing more can be added. */
export class GroupFullError extends MetaChatError {
  override readonly code = 'GROUP_FULL';
}

/** A group message from someone who is no longer a member at the reader's head (removed or left). */
export class GroupSenderRemovedError extends MetaChatError {
  override readonly code = 'GROUP_SENDER_REMOVED';
}

/** A member's key that is not the one the group log names for it (a substituted or changed key). */
export class GroupKeyMismatchError extends MetaChatError {
  override readonly code = 'GROUP_KEY_MISMATCH';
}

/** A key rotation statement (docs/protocol.md 5b) that the replaced key did not sign. */
export class RotationOldSignatureInvalidError extends MetaChatError {
  override readonly code = 'ROTATION_OLD_SIGNATURE_INVALID';
}

/** A key rotation statement that the new key did not sign (nobody proved holding it). */
export class RotationNewSignatureInvalidError extends MetaChatError {
  override readonly code = 'ROTATION_NEW_SIGNATURE_INVALID';
}

/** A key rotation statement made for another identifier than the one it was served for. */
export class RotationIdentifierMismatchError extends MetaChatError {
  override readonly code = 'ROTATION_IDENTIFIER_MISMATCH';
}

/** Rotation statements that do not lead, link by link and counter by counter, from one key to another. */
export class RotationChainBrokenError extends MetaChatError {
  override readonly code = 'ROTATION_CHAIN_BROKEN';
}

/** A key (or a rotation chain) older than one already seen: a replaced key served again. */
export class RotationRolledBackError extends MetaChatError {
  override readonly code = 'ROTATION_ROLLED_BACK';
}

/** An account deletion statement (docs/protocol.md 5c) the account key did not sign for this identifier and nonce. */
export class DeletionSignatureInvalidError extends MetaChatError {
  override readonly code = 'DELETION_SIGNATURE_INVALID';
}

/** An edit or delete (docs/protocol.md 8.1) of a message that another identity sent: never applied. */
export class EditForbiddenError extends MetaChatError {
  override readonly code = 'EDIT_FORBIDDEN';
}

/** An edit or delete naming a message of another conversation (another pair of peers, or group). */
export class EditConversationMismatchError extends MetaChatError {
  override readonly code = 'EDIT_CONVERSATION_MISMATCH';
}

/** An edit or delete naming something that is not a text or a reply (a hello, an edit, a delete). */
export class EditTargetInvalidError extends MetaChatError {
  override readonly code = 'EDIT_TARGET_INVALID';
}

/** Refusals that only the relay reports; each is one failure with its own code. */
export const RELAY_ERROR_CODES = [
  'NOT_AUTHENTICATED',
  'ALREADY_AUTHENTICATED',
  'NO_CHALLENGE',
  'ALREADY_REGISTERED',
  'UNKNOWN_IDENTIFIER',
  'LOGIN_FAILED',
  'RATE_LIMITED',
  'TOO_MANY_SOCKETS',
  'FORBIDDEN_SENDER',
  'PACKET_ID_TAKEN',
  'UNKNOWN_EVENT',
  'STORE_FAILED',
  'QUOTA_EXCEEDED',
  'STORAGE_FULL',
  'STALE_CREDENTIALS',
  'ACCOUNT_DELETED',
  'IDENTIFIER_RETIRED',
  'DELETION_NONCE_MISMATCH',
] as const;

/** One refusal by the relay, as named on the wire. */
export type RelayErrorCode = (typeof RELAY_ERROR_CODES)[number];

/** A refusal by the relay; the code says which, the message says what to do about it. */
export class RelayError extends MetaChatError {
  override readonly code: RelayErrorCode;

  constructor(code: RelayErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The {code, message} pair that an error acknowledgement carries on the wire. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

/** Turns any thrown value into a wire error without leaking internals of unexpected failures. */
export function toWireError(error: unknown): WireError {
  if (error instanceof MetaChatError) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: 'Internal error; the operation was not performed.' };
}
