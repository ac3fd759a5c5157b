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
