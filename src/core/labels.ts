/** Protocol version spoken by this implementation; every packet and body carries it. */
export const PROTOCOL_VERSION = 1;

/**
 * Domain-separation labels of protocol v1. Each signed or derived byte string starts with exactly
 * one of them, so a value made for one purpose can never be accepted for another.
 */
export const LABELS = {
  packetSignature: 'MetaChat-v1/packet-signature',
  packetHeader: 'MetaChat-v1/packet-header',
  auth: 'MetaChat-v1/auth',
  keyEncryptionKey: 'MetaChat-v1/key-encryption-key',
  loginProof: 'MetaChat-v1/login-proof',
  safetyNumber: 'MetaChat-v1/safety-number',
  credentials: 'MetaChat-v1/credentials',
  groupId: 'MetaChat-v1/group-id',
  groupEntry: 'MetaChat-v1/group-entry',
  groupEntryHash: 'MetaChat-v1/group-entry-hash',
  groupMeta: 'MetaChat-v1/group-meta',
  groupMessage: 'MetaChat-v1/group-message',
  groupMessageHeader: 'MetaChat-v1/group-message-header',
  keyRotationOld: 'MetaChat-v1/key-rotation-old',
  keyRotationNew: 'MetaChat-v1/key-rotation-new',
  deleteAccount: 'MetaChat-v1/delete-account',
  /** Local only, never on the wire: the key that wraps this device's history key in its profile. */
  localHistoryKey: 'MetaChat-v1/local-history-key',
  /** Local only: the AAD of the history key's wrap. */
  localHistoryWrap: 'MetaChat-v1/local-history-wrap',
} as const;
