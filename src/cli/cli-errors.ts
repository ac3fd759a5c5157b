/** A mistake in how the command was called: exit code 2, with the usage hint. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The relay served a key for a peer that differs from the pinned one: nothing is sent until re-verified. */
export class KeyChangedError extends Error {
  override readonly name = 'KeyChangedError';
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
