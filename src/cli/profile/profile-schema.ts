// The shape of profile.json, apart from the code that reads and writes it, so the merge can use it too.

import { z } from 'zod';
import {
  groupEntrySchema,
  groupIdSchema,
  groupNameSchema,
  identifierSchema,
  MAX_GROUP_LOG_ENTRIES,
  kdfParamsSchema,
  MAX_KEPT_ROTATIONS,
  packetIdSchema,
  replacedKeysSchema,
  timestampSchema,
  publicKeySchema,
  wrappedPrivateKeySchema,
  wrappedHistoryKeySchema,
} from '../../core/index.js';
import { REMEMBERED_PACKETS } from '../stream/stream-guard.js';

/** A peer as this device knows it: the pinned key, and what the user or the peer told us. */
const peerSchema = z.strictObject({
  /** Base64 SPKI pinned on first contact (or from an `identifier#fingerprint` address). */
  publicKey: publicKeySchema.optional(),
  alias: z.string().max(64).optional(),
  /** A username the peer sent inside the encryption, shown only because it hashes to the identifier. */
  username: z.string().max(32).optional(),
  /** Set when the relay served a key that differs from the pinned one; sending stops until --trust. */
  changedKey: publicKeySchema.optional(),
  /** The key whose safety number `verify` last showed: the only one `verify --trust` may accept. */
  shownKey: publicKeySchema.optional(),
  /** Two processes of this device pinned or accepted different keys: only `verify --trust` settles it. */
  disputed: z.literal(true).optional(),
  helloSent: z.boolean().optional(),
  /**
   * Keys the peer replaced with a signed rotation this device followed (newest first), with the
   * time of the rotation: packets signed by one and dated before it still verify.
   */
  replacedKeys: z
    .array(z.strictObject({ publicKey: publicKeySchema, until: timestampSchema }))
    .max(MAX_KEPT_ROTATIONS)
    .optional(),
  /** The counter of the peer's last key rotation this device followed. */
  rotation: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  /** The user compared safety numbers (`verify --trust`) or gave the fingerprint with the address. */
  verified: z.boolean().optional(),
  readUpTo: z.number().int().min(0).optional(),
});

/** Most groups one profile holds a log of: each may be megabytes, and the profile is read whole. */
export const MAX_PROFILE_GROUPS = 200;

/**
 * A group as this device verified it: the log entries (each checked when it came, section 16.4;
 * on load only linked and replayed, not verified again) and the name decrypted from them.
 */
export const groupRecordSchema = z.strictObject({
  entries: z.array(groupEntrySchema).min(1).max(MAX_GROUP_LOG_ENTRIES),
  /** The name as this device last read it (kept after leaving, when it can no longer read a new one). */
  name: groupNameSchema.optional(),
  /** The seq of the last incoming group message `history` showed: what `inbox` counts unread from. */
  readUpTo: z.number().int().min(0).optional(),
  /** The log entry at whose members my username was last sent to the group (a `hello`). */
  helloAt: z.number().int().min(0).optional(),
  /**
   * Each remove or leave entry this device verified, with the place of its stream it had reached
   * then: a departed member's message at a place up to it came before the departure (16.5 step 6).
   */
  departures: z
    .array(z.tuple([z.number().int().min(1), z.number().int().min(0)]))
    .max(MAX_GROUP_LOG_ENTRIES)
    .optional(),
});

/** The local profile: everything this device keeps, never the unwrapped private key nor the password. */
export const profileSchema = z.strictObject({
  v: z.literal(1),
  server: z.string().max(2048),
  username: z.string().max(32),
  identifier: identifierSchema,
  publicKey: publicKeySchema,
  wrappedPrivateKey: wrappedPrivateKeySchema,
  kdf: kdfParamsSchema,
  /** Generation of the newest signed credentials statement this device saw (0: none yet). */
  credentialsGeneration: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** The key of this device's local history (history.db), wrapped under the password like the private key. */
  historyKey: wrappedHistoryKeySchema.optional(),
  /** This account's replaced key pairs, wrapped like the current one (newest first). */
  replacedKeys: replacedKeysSchema.optional(),
  shareUsername: z.boolean(),
  /** Ring the terminal bell on a new message in the TUI (default on). */
  bell: z.boolean().optional(),
  /** Every position of this user's stream up to here was seen (or reported withheld) by this device. */
  seenUpTo: z.number().int().min(0),
  /** The last packets of the stream this device saw, as [seq, id], so a replay is recognised later. */
  recentPackets: z
    .array(z.tuple([z.number().int().min(1), packetIdSchema]))
    .max(REMEMBERED_PACKETS)
    .optional(),
  peers: z.record(identifierSchema, peerSchema),
  /** The groups this device verified the log of, by group id. */
  groups: z
    .record(groupIdSchema, groupRecordSchema)
    .refine((groups) => Object.keys(groups).length <= MAX_PROFILE_GROUPS, {
      message: `at most ${MAX_PROFILE_GROUPS} groups`,
    })
    .optional(),
});

/** The contents of profile.json. */
export type Profile = z.infer<typeof profileSchema>;
/** One entry of Profile.groups. */
export type GroupRecord = z.infer<typeof groupRecordSchema>;
/** One entry of Profile.peers. */
export type PeerRecord = z.infer<typeof peerSchema>;
