/** A mistake in how the command was called: exit code 2, with the usage hint. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Nothing may be sent to a peer (its key changed, or its account is gone): said, never retried alone. */
export abstract class PeerBlockedError extends Error {
  abstract readonly code: string;
}

/** The relay served a key for a peer that differs from the pinned one: nothing is sent until re-verified. */
export class KeyChangedError extends PeerBlockedError {
  override readonly name = 'KeyChangedError';
  readonly code = 'KEY_CHANGED';
}

/** A peer address that names nobody this device knows. */
export class UnknownPeerError extends Error {
  override readonly name = 'UnknownPeerError';
}

/**
 * At a new device's login the relay accepted the proof, yet the private key it sent does not decrypt:
 * an honest relay refuses a wrong password before sending the key, so the relay lied or its data is damaged.
 */
export class WrappedKeyRejectedError extends Error {
  override readonly name = 'WrappedKeyRejectedError';
}

/** `logout` would lose messages the chat screen queued but the relay has not stored yet. */
export class UnsentMessagesError extends Error {
  override readonly name = 'UnsentMessagesError';
}

/** `register` or `login` into a --home that already holds an account: refused unless --force. */
export class ProfileExistsError extends Error {
  override readonly name = 'ProfileExistsError';
}

/**
 * `register` for a username someone registered already on this relay. Learned only from the
 * registration itself: the relay answers no cheaper question about who is registered.
 */
export class UsernameTakenError extends Error {
  override readonly name = 'UsernameTakenError';
  /** The relay's own code, so scripts read the same one as from the protocol. */
  readonly code = 'ALREADY_REGISTERED';
}

/** A group named on the command line that no group this device holds answers to. */
export class UnknownGroupError extends Error {
  override readonly name = 'UnknownGroupError';
}

/** A group name or id prefix that more than one group this device holds answers to. */
export class AmbiguousGroupError extends Error {
  override readonly name = 'AmbiguousGroupError';
}

/** A contact's account deleted, with a deletion statement that verifies under the key pinned here. */
export class PeerDeletedError extends PeerBlockedError {
  override readonly name = 'PeerDeletedError';
  /** The relay's own code: a verified deletion reads as the protocol's refusal. */
  readonly code = 'ACCOUNT_DELETED';
}

/**
 * The relay says a contact deleted the account but shows no deletion statement signed by the key
 * pinned here: it may be lying to cut the conversation off. Nothing is sent; the user is warned.
 */
export class DeletionUnverifiedError extends PeerBlockedError {
  override readonly name = 'DeletionUnverifiedError';
  readonly code = 'DELETION_UNVERIFIED';
}
