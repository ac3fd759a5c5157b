import {
  identifierFromUsername,
  MetaChatError,
  updateGroupLog,
  type GroupEntry,
  type GroupKeyLookup,
  type GroupLog,
  type PublicKey,
} from '../../src/core/index.js';
import { captureError } from './capture-error.js';
import type { Party } from './parties.js';

/** A pinned-key store over test parties: the lookup every group check is given. */
export function keyringOf(parties: readonly Party[]): GroupKeyLookup {
  const keys = new Map(parties.map((p) => [p.identifier, p.keyPair.publicKey]));
  return (identifier) => {
    const key = keys.get(identifier);
    if (key === undefined) throw new Error(`no pinned key for ${identifier.slice(0, 8)}`);
    return key;
  };
}

/** A verified log from a whole list of entries, of the group its first entry names. */
export function logOf(entries: readonly GroupEntry[], keyOf: GroupKeyLookup): GroupLog {
  return updateGroupLog(null, entries, keyOf, entries[0]?.group ?? '00'.repeat(32));
}

/** The log with one more entry, verified. */
/** (`entry` is untyped so that a test can pass what a hostile relay would.) */
export function appended(log: GroupLog, entry: unknown, keyOf: GroupKeyLookup): GroupLog {
  return updateGroupLog(log, [entry], keyOf, log.group);
}

/** The first `count` entries of a verified log, verified again: what an older device holds. */
export function prefixOf(log: GroupLog, count: number, keyOf: GroupKeyLookup): GroupLog {
  return logOf(
    log.entries.slice(0, count).map((e) => e.entry),
    keyOf,
  );
}

/** The code of the protocol error a call throws (the name of anything else). */
export function codeOf(run: () => unknown): string {
  const error = captureError(run);
  return error instanceof MetaChatError ? error.code : error.name;
}

/** `count` members with made-up identifiers who share one public key: enough to fill a group. */
export function fillers(
  count: number,
  publicKey: PublicKey,
): { identifier: string; publicKey: PublicKey }[] {
  return Array.from({ length: count }, (_, i) => ({
    identifier: identifierFromUsername(`member-${i}`),
    publicKey,
  }));
}
