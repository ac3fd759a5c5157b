import { z } from 'zod';
import { GCM_IV_BYTES, GCM_TAG_BYTES } from './aes-gcm.js';
import { framedBytes, uint64Bytes } from './canonical-bytes.js';
import { sha256 } from './digest.js';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes, utf8ToBytes } from './encoding.js';
import { SignatureInvalidError, UnsupportedVersionError } from './errors.js';
import { MAX_GROUP_MEMBERS, MAX_GROUP_META_BYTES } from './group-limits.js';
import type { PrivateKey, PublicKey } from './keys.js';
import { LABELS, PROTOCOL_VERSION } from './labels.js';
import { RSA_BYTES, pssSign, pssVerify } from './rsa.js';
import { base64Bytes, hexDigits, identifierSchema, parseWire, timestampSchema } from './schemas.js';

const hex = (text: string, what: string) => hexToBytes(text, what);
const b64 = (text: string, what: string) => base64ToBytes(text, what);

/** Bytes in a group id (a SHA-256), and in the creator's random nonce it is derived from. */
export const GROUP_ID_BYTES = 32;
/** A group id on the wire: 64 hex digits. */
export const groupIdSchema = hexDigits(2 * GROUP_ID_BYTES);
/** The create entry's random nonce, 64 hex digits. */
export const groupNonceSchema = hexDigits(2 * GROUP_ID_BYTES);
/** A member's key fingerprint as the log records it: SHA-256 of the SPKI DER (section 3), 64 hex. */
export const keyFingerprintSchema = hexDigits(64);
/** The fingerprints of the listed members, in the same order. */
export const fingerprintListSchema = z.array(keyFingerprintSchema).min(1).max(MAX_GROUP_MEMBERS);

/**
 * The id of a group (section 16.1): SHA-256 over its creator and the create entry's nonce, so that
 * nobody but the creator can make a create entry for an existing group's id.
 */
export function groupIdOf(creator: string, nonce: string): string {
  return bytesToHex(
    sha256(framedBytes(LABELS.groupId, [hex(creator, 'creator'), hex(nonce, 'nonce')])),
  );
}
/** The hash of a group log entry (section 16.2), 64 hex digits. */
export const entryHashSchema = hexDigits(64);
/** The `prev` of a log's first entry: 32 zero bytes. */
export const GENESIS_PREV = '0'.repeat(64);

/** One RSA-OAEP-wrapped key, for one member. */
export const wrappedKeySchema = base64Bytes(RSA_BYTES);
/** A list of members or admins, in ascending identifier order, each once (checked by the log). */
export const memberListSchema = z.array(identifierSchema).min(1).max(MAX_GROUP_MEMBERS);

/** The group's metadata, encrypted once and its key wrapped for every member after the entry. */
export const sealedGroupMetaSchema = z.strictObject({
  iv: base64Bytes(GCM_IV_BYTES),
  ct: base64Bytes(GCM_TAG_BYTES + 1, MAX_GROUP_META_BYTES + GCM_TAG_BYTES),
  keys: z.array(wrappedKeySchema).min(1).max(MAX_GROUP_MEMBERS),
});

/** Encrypted group metadata as an entry carries it. */
export type SealedGroupMeta = z.infer<typeof sealedGroupMetaSchema>;

const common = {
  v: z.literal(PROTOCOL_VERSION),
  group: groupIdSchema,
  index: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  prev: entryHashSchema,
  author: identifierSchema,
  time: timestampSchema,
  sig: base64Bytes(RSA_BYTES),
};

/**
 * One entry of a group log (section 16.2): what changed, by whom, linked to the entry before it and
 * signed by its author, so that the relay can neither invent nor reorder membership.
 */
export const groupEntrySchema = z.discriminatedUnion('op', [
  z.strictObject({
    ...common,
    op: z.literal('create'),
    nonce: groupNonceSchema,
    members: memberListSchema,
    fingerprints: fingerprintListSchema,
    meta: sealedGroupMetaSchema,
  }),
  z.strictObject({
    ...common,
    op: z.literal('add'),
    member: identifierSchema,
    fingerprint: keyFingerprintSchema,
    metaKey: wrappedKeySchema,
  }),
  z.strictObject({ ...common, op: z.literal('remove'), member: identifierSchema }),
  z.strictObject({ ...common, op: z.literal('leave') }),
  z.strictObject({ ...common, op: z.literal('rename'), meta: sealedGroupMetaSchema }),
  z.strictObject({ ...common, op: z.literal('set-admins'), admins: memberListSchema }),
]);

/** A signed group log entry, as parsed from the wire. */
export type GroupEntry = z.infer<typeof groupEntrySchema>;
/** The kinds of group log entry. */
export type GroupOp = GroupEntry['op'];
/** A group log entry before its author signs it. */
export type UnsignedGroupEntry = GroupEntry extends infer E
  ? E extends GroupEntry
    ? Omit<E, 'sig'>
    : never
  : never;

/** Parses a group log entry from untrusted input; a future version is told apart from garbage. */
export function parseGroupEntry(input: unknown): GroupEntry {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const version = (input as { v?: unknown }).v;
    if (typeof version === 'number' && Number.isInteger(version) && version !== PROTOCOL_VERSION) {
      throw new UnsupportedVersionError(
        `The group log entry uses protocol version ${version}; this build speaks ${PROTOCOL_VERSION}. Update MetaChat.`,
      );
    }
  }
  return parseWire(groupEntrySchema, input, 'group entry');
}

function listBytes(items: readonly Uint8Array[]): Uint8Array[] {
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, items.length, false);
  return [count, ...items];
}

function metaFields(meta: SealedGroupMeta): Uint8Array[] {
  return [
    b64(meta.iv, 'meta iv'),
    b64(meta.ct, 'meta ct'),
    ...listBytes(meta.keys.map((key) => b64(key, 'meta key'))),
  ];
}

function opFields(entry: UnsignedGroupEntry): Uint8Array[] {
  switch (entry.op) {
    case 'create':
      return [
        hex(entry.nonce, 'nonce'),
        ...listBytes(entry.members.map((m) => hex(m, 'member'))),
        ...listBytes(entry.fingerprints.map((f) => hex(f, 'fingerprint'))),
        ...metaFields(entry.meta),
      ];
    case 'add':
      return [
        hex(entry.member, 'member'),
        hex(entry.fingerprint, 'fingerprint'),
        b64(entry.metaKey, 'metaKey'),
      ];
    case 'remove':
      return [hex(entry.member, 'member')];
    case 'leave':
      return [];
    case 'rename':
      return metaFields(entry.meta);
    case 'set-admins':
      return listBytes(entry.admins.map((m) => hex(m, 'admin')));
  }
}

/** The exact bytes an entry's author signs: every field but `sig`, under the entry label. */
export function groupEntrySigningBytes(entry: UnsignedGroupEntry): Uint8Array {
  return framedBytes(LABELS.groupEntry, [
    Uint8Array.of(entry.v),
    hex(entry.group, 'group'),
    uint64Bytes(entry.index),
    hex(entry.prev, 'prev'),
    hex(entry.author, 'author'),
    uint64Bytes(entry.time),
    utf8ToBytes(entry.op),
    ...opFields(entry),
  ]);
}

/** The hash that the next entry's `prev` and a group message's `head` name: it covers the signature too. */
export function groupEntryHash(
  entry: GroupEntry,
  signingBytes: Uint8Array = groupEntrySigningBytes(entry),
): string {
  return bytesToHex(
    sha256(framedBytes(LABELS.groupEntryHash, [signingBytes, b64(entry.sig, 'sig')])),
  );
}

/** An entry's size as the log's byte bound counts it (section 16.6): signing bytes and signature. */
export function groupEntrySize(signingBytes: Uint8Array): number {
  return signingBytes.length + RSA_BYTES;
}

const PLACEHOLDER_SIG = bytesToBase64(new Uint8Array(RSA_BYTES));

/** Signs an entry with its author's key (RSA-PSS-SHA256), the one way an entry is made. */
export function signGroupEntry(privateKey: PrivateKey, entry: UnsignedGroupEntry): GroupEntry {
  const checked = parseWire(groupEntrySchema, { ...entry, sig: PLACEHOLDER_SIG }, 'group entry');
  const sig = bytesToBase64(pssSign(privateKey.keyObject, groupEntrySigningBytes(checked)));
  return { ...checked, sig };
}

/** Accepts an entry only if its author's key (from the reader's own store) signed every field. */
export function verifyGroupEntrySignature(
  entry: GroupEntry,
  authorKey: PublicKey,
  signingBytes: Uint8Array = groupEntrySigningBytes(entry),
): void {
  if (!pssVerify(authorKey.keyObject, signingBytes, b64(entry.sig, 'sig'))) {
    throw new SignatureInvalidError(
      `Group log entry ${entry.index} is not signed by the member it names: it was forged or altered.`,
    );
  }
}
