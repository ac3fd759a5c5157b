import { bytesToHex } from './encoding.js';
import {
  GROUP_ID_BYTES,
  GENESIS_PREV,
  groupIdOf,
  signGroupEntry,
  type GroupEntry,
  type UnsignedGroupEntry,
} from './group-entry.js';
import { applyGroupEntry, groupHead, type GroupKeyLookup, type GroupLog } from './group-log.js';
import type { ReplacedMemberKey } from './group-keys.js';
import {
  sealGroupMeta,
  unwrapGroupMetaKey,
  wrapGroupMetaKey,
  type GroupReaderKeys,
} from './group-meta.js';
import type { KeyPair, PublicKey } from './keys.js';
import { PROTOCOL_VERSION } from './labels.js';
import { systemRandom, type RandomSource } from './random.js';
import { parseWire, timestampSchema } from './schemas.js';

/** The member making a change: its identifier and own key pair. */
export interface GroupActor {
  readonly identifier: string;
  readonly keyPair: KeyPair;
  /** Key pairs it replaced by a key rotation, newest first, with the rotation's time (16.1). */
  readonly replaced?: readonly { readonly keyPair: KeyPair; readonly until: number }[];
}

/** The actor's replaced public keys, as core's key checks take them. */
export function actorReplacedKeys(actor: GroupActor): ReplacedMemberKey[] {
  return (actor.replaced ?? []).map((r) => ({ key: r.keyPair.publicKey, until: r.until }));
}

/** The actor's keys for reading what was wrapped for it (its replaced private keys too). */
export function actorReaderKeys(actor: GroupActor): GroupReaderKeys {
  return {
    identifier: actor.identifier,
    privateKey: actor.keyPair.privateKey,
    replacedPrivateKeys: (actor.replaced ?? []).map((r) => r.keyPair.privateKey),
  };
}

/** Injection points for vectors and tests; production code passes nothing. */
export interface GroupActionOptions {
  readonly random?: RandomSource;
  readonly now?: () => number;
}

function timeOf(options: GroupActionOptions): number {
  return parseWire(timestampSchema, (options.now ?? Date.now)(), 'time');
}

/** Signs an entry and checks it against the log's rules, so a client never sends one the others refuse. */
function signChecked(
  log: GroupLog | null,
  actor: GroupActor,
  unsigned: UnsignedGroupEntry,
  keyOf: GroupKeyLookup,
): GroupEntry {
  const entry = signGroupEntry(actor.keyPair.privateKey, unsigned);
  const ownFirst: GroupKeyLookup = (id) =>
    id === actor.identifier ? actor.keyPair.publicKey : keyOf(id);
  const own = actorReplacedKeys(actor);
  applyGroupEntry(log === null ? null : groupHead(log), entry, ownFirst, (id) =>
    id === actor.identifier ? own : [],
  );
  return entry;
}

function nextFields(log: GroupLog, actor: GroupActor, options: GroupActionOptions) {
  const head = groupHead(log);
  return {
    v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION,
    group: head.group,
    index: head.index + 1,
    prev: head.hash,
    author: actor.identifier,
    time: timeOf(options),
  };
}

/**
 * A new group's create entry: a fresh random nonce and the id derived from it and the creator, the
 * creator and the given members each with the fingerprint of the key the creator pinned for it,
 * the name encrypted for all of them.
 */
export function createGroupEntry(
  creator: GroupActor,
  others: readonly { readonly identifier: string; readonly publicKey: PublicKey }[],
  name: string,
  options: GroupActionOptions = {},
): GroupEntry {
  const random = options.random ?? systemRandom;
  const nonce = bytesToHex(random(GROUP_ID_BYTES));
  const group = groupIdOf(creator.identifier, nonce);
  const everyone = [
    { identifier: creator.identifier, publicKey: creator.keyPair.publicKey },
    ...others,
  ].sort((a, b) => (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0));
  const { meta } = sealGroupMeta(
    {
      group,
      index: 0,
      meta: { v: PROTOCOL_VERSION, name },
      memberKeys: everyone.map((m) => m.publicKey),
    },
    random,
  );
  const keys = new Map(everyone.map((m) => [m.identifier, m.publicKey]));
  const keyOf: GroupKeyLookup = (id) => {
    const key = keys.get(id);
    if (key === undefined) throw new Error('no key for a member of the new group');
    return key;
  };
  return signChecked(
    null,
    creator,
    {
      v: PROTOCOL_VERSION,
      group,
      index: 0,
      prev: GENESIS_PREV,
      author: creator.identifier,
      time: timeOf(options),
      op: 'create',
      nonce,
      members: everyone.map((m) => m.identifier),
      fingerprints: everyone.map((m) => m.publicKey.fingerprint),
      meta,
    },
    keyOf,
  );
}

/**
 * An admin adds a member: the entry names the fingerprint of the newcomer's key as the admin pinned
 * it, and wraps the current name's key for that key.
 */
export function addMemberEntry(
  log: GroupLog,
  admin: GroupActor,
  member: { readonly identifier: string; readonly publicKey: PublicKey },
  keyOf: GroupKeyLookup,
  options: GroupActionOptions = {},
): GroupEntry {
  const metaKey = unwrapGroupMetaKey(log, actorReaderKeys(admin));
  return signChecked(
    log,
    admin,
    {
      ...nextFields(log, admin, options),
      op: 'add',
      member: member.identifier,
      fingerprint: member.publicKey.fingerprint,
      metaKey: wrapGroupMetaKey(metaKey, member.publicKey),
    },
    keyOf,
  );
}

/** An admin removes another member. */
export function removeMemberEntry(
  log: GroupLog,
  admin: GroupActor,
  member: string,
  keyOf: GroupKeyLookup,
  options: GroupActionOptions = {},
): GroupEntry {
  return signChecked(
    log,
    admin,
    { ...nextFields(log, admin, options), op: 'remove', member },
    keyOf,
  );
}

/** A member leaves (anyone may). */
export function leaveGroupEntry(
  log: GroupLog,
  member: GroupActor,
  keyOf: GroupKeyLookup,
  options: GroupActionOptions = {},
): GroupEntry {
  return signChecked(log, member, { ...nextFields(log, member, options), op: 'leave' }, keyOf);
}

/** An admin renames the group: the new name under a fresh key, wrapped for every member now. */
export function renameGroupEntry(
  log: GroupLog,
  admin: GroupActor,
  name: string,
  keyOf: GroupKeyLookup,
  options: GroupActionOptions = {},
): GroupEntry {
  const fields = nextFields(log, admin, options);
  const members = groupHead(log).members;
  const { meta } = sealGroupMeta(
    {
      group: fields.group,
      index: fields.index,
      meta: { v: PROTOCOL_VERSION, name },
      memberKeys: members.map((m) => (m === admin.identifier ? admin.keyPair.publicKey : keyOf(m))),
    },
    options.random ?? systemRandom,
  );
  return signChecked(log, admin, { ...fields, op: 'rename', meta }, keyOf);
}

/** An admin sets who the admins are (all of them, ascending). */
export function setAdminsEntry(
  log: GroupLog,
  admin: GroupActor,
  admins: readonly string[],
  keyOf: GroupKeyLookup,
  options: GroupActionOptions = {},
): GroupEntry {
  return signChecked(
    log,
    admin,
    { ...nextFields(log, admin, options), op: 'set-admins', admins: [...admins].sort() },
    keyOf,
  );
}
