import { z } from 'zod';
import { AES_KEY_BYTES, GCM_IV_BYTES, gcmDecrypt, gcmEncrypt } from './aes-gcm.js';
import { framedBytes, uint64Bytes } from './canonical-bytes.js';
import {
  base64ToBytes,
  bytesToBase64,
  bytesToUtf8,
  hexToBytes,
  utf8ByteLength,
  utf8ToBytes,
} from './encoding.js';
import {
  DecryptionFailedError,
  GroupNotMemberError,
  MalformedBodyError,
  MetaChatError,
} from './errors.js';
import type { SealedGroupMeta } from './group-entry.js';
import { MAX_GROUP_META_BYTES, MAX_GROUP_NAME_BYTES } from './group-limits.js';
import type { GroupLog } from './group-log.js';
import type { PrivateKey, PublicKey } from './keys.js';
import { LABELS, PROTOCOL_VERSION } from './labels.js';
import { systemRandom, type RandomSource } from './random.js';
import { oaepDecrypt, oaepEncrypt } from './rsa.js';
import { parseWire } from './schemas.js';

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/;

/** The group's name: one line, no controls or bidirectional overrides, 1 to 128 UTF-8 bytes. */
export const groupNameSchema = z
  .string()
  .min(1)
  .max(MAX_GROUP_NAME_BYTES)
  .superRefine((name, ctx) => {
    if (name.length > MAX_GROUP_NAME_BYTES) return;
    const bytes = utf8ByteLength(name);
    if (NAME_FORBIDDEN.test(name)) {
      ctx.addIssue({ code: 'custom', message: 'contains control characters' });
    } else if (bytes === null) {
      ctx.addIssue({ code: 'custom', message: 'is not valid Unicode' });
    } else if (bytes > MAX_GROUP_NAME_BYTES) {
      ctx.addIssue({
        code: 'too_big',
        maximum: MAX_GROUP_NAME_BYTES,
        origin: 'string',
        message: `is over ${MAX_GROUP_NAME_BYTES} UTF-8 bytes`,
      });
    }
  });

/** What the members know of a group and the relay does not: its name. */
export const groupMetaSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  name: groupNameSchema,
});

/** Decrypted group metadata. */
export type GroupMeta = z.infer<typeof groupMetaSchema>;

function metaBytes(meta: GroupMeta): Uint8Array {
  return utf8ToBytes(JSON.stringify({ v: meta.v, name: meta.name }));
}

/** The AAD of a metadata ciphertext: the group and the entry carrying it. */
export function groupMetaAad(group: string, index: number): Uint8Array {
  return framedBytes(LABELS.groupMeta, [hexToBytes(group, 'group'), uint64Bytes(index)]);
}

/** Encrypted metadata for an entry, and its key (which an add later wraps for a new member). */
export interface SealedMetaResult {
  readonly meta: SealedGroupMeta;
  readonly metaKey: Uint8Array;
}

/**
 * Encrypts the metadata once for the entry at `index`, its key wrapped for each member's key in
 * ascending identifier order (the creator's or renamer's own key among them).
 */
export function sealGroupMeta(
  input: {
    readonly group: string;
    readonly index: number;
    readonly meta: GroupMeta;
    readonly memberKeys: readonly PublicKey[];
  },
  random: RandomSource = systemRandom,
): SealedMetaResult {
  const plaintext = metaBytes(parseWire(groupMetaSchema, input.meta, 'group metadata'));
  const metaKey = random(AES_KEY_BYTES);
  const iv = random(GCM_IV_BYTES);
  const ct = gcmEncrypt(metaKey, iv, plaintext, groupMetaAad(input.group, input.index));
  return {
    meta: {
      iv: bytesToBase64(iv),
      ct: bytesToBase64(ct),
      keys: input.memberKeys.map((key) => bytesToBase64(oaepEncrypt(key.keyObject, metaKey))),
    },
    metaKey,
  };
}

/** Wraps the current metadata key for a member being added, as the add entry carries it. */
export function wrapGroupMetaKey(metaKey: Uint8Array, memberKey: PublicKey): string {
  return bytesToBase64(oaepEncrypt(memberKey.keyObject, metaKey));
}

/**
 * A member's own private keys: the current one, and those it replaced by a key rotation (newest
 * first), for what other members wrapped for it before they learned of the rotation (16.1).
 */
export interface GroupReaderKeys {
  readonly identifier: string;
  readonly privateKey: PrivateKey;
  readonly replacedPrivateKeys?: readonly PrivateKey[];
}

/** RSA-OAEP-unwraps a key wrapped for this member, with its current key first, then its replaced ones. */
export function unwrapWithMyKeys(reader: GroupReaderKeys, wrapped: Uint8Array): Uint8Array | null {
  for (const key of [reader.privateKey, ...(reader.replacedPrivateKeys ?? [])]) {
    const opened = oaepDecrypt(key.keyObject, wrapped);
    if (opened?.length === AES_KEY_BYTES) return opened;
  }
  return null;
}

function wrappedKeyFor(log: GroupLog, reader: string): { wrapped: string; index: number } {
  const head = log.entries.at(-1);
  if (head === undefined || !head.members.includes(reader)) {
    throw new GroupNotMemberError(
      'You are not a member of this group: its name is not yours to read.',
    );
  }
  const metaEntry = log.entries[head.metaIndex];
  if (metaEntry === undefined) throw new GroupNotMemberError('The group log has no metadata.');
  for (let i = log.entries.length - 1; i > head.metaIndex; i--) {
    const entry = log.entries[i]?.entry;
    if (entry?.op === 'add' && entry.member === reader) {
      return { wrapped: entry.metaKey, index: head.metaIndex };
    }
  }
  const { entry } = metaEntry;
  const position = metaEntry.members.indexOf(reader);
  const wrapped =
    entry.op === 'create' || entry.op === 'rename' ? entry.meta.keys[position] : undefined;
  if (wrapped === undefined) {
    throw new GroupNotMemberError('The group log holds no metadata key for you.');
  }
  return { wrapped, index: head.metaIndex };
}

/** The metadata key of the log's latest metadata, unwrapped by a member (an admin adding someone). */
export function unwrapGroupMetaKey(log: GroupLog, reader: GroupReaderKeys): Uint8Array {
  const { wrapped } = wrappedKeyFor(log, reader.identifier);
  const key = unwrapWithMyKeys(reader, base64ToBytes(wrapped, 'meta key'));
  if (key?.length !== AES_KEY_BYTES) {
    throw new DecryptionFailedError('The group metadata key does not decrypt with your key.');
  }
  return key;
}

/** Decrypts the group's current metadata (its name) from a verified log, as a member. */
export function openGroupMeta(log: GroupLog, reader: GroupReaderKeys): GroupMeta {
  const key = unwrapGroupMetaKey(log, reader);
  const head = log.entries.at(-1);
  const metaEntry = head === undefined ? undefined : log.entries[head.metaIndex]?.entry;
  if (metaEntry?.op !== 'create' && metaEntry?.op !== 'rename') {
    throw new GroupNotMemberError('The group log has no metadata.');
  }
  const plaintext = gcmDecrypt(
    key,
    base64ToBytes(metaEntry.meta.iv, 'meta iv'),
    base64ToBytes(metaEntry.meta.ct, 'meta ct'),
    groupMetaAad(metaEntry.group, metaEntry.index),
  );
  if (plaintext === null) throw new DecryptionFailedError('The group metadata does not decrypt.');
  return decodeGroupMeta(plaintext);
}

function decodeGroupMeta(bytes: Uint8Array): GroupMeta {
  let meta: GroupMeta;
  try {
    if (bytes.length > MAX_GROUP_META_BYTES) throw new MalformedBodyError('too large');
    meta = parseWire(groupMetaSchema, JSON.parse(bytesToUtf8(bytes, 'group metadata')), 'meta');
  } catch (cause) {
    const detail = cause instanceof MetaChatError ? ` (${cause.message})` : '';
    throw new MalformedBodyError(`The group metadata decrypted, but is invalid${detail}.`, {
      cause,
    });
  }
  const canonical = metaBytes(meta);
  if (canonical.length !== bytes.length || canonical.some((b, i) => b !== bytes[i])) {
    throw new MalformedBodyError('The group metadata decrypted, but is not in canonical form.');
  }
  return meta;
}
