import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import {
  derivePasswordKeys,
  identifierSchema,
  kdfParamsSchema,
  parseWire,
  unwrapHistoryKey,
  wrappedHistoryKeySchema,
} from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { openHistory } from '../history/history-access.js';
import { ASIDE_KEY_SUFFIX } from '../history/history-aside.js';
import { HistoryLockedError } from '../history/history-errors.js';
import { HistoryStore } from '../history/history-store.js';
import { openUnlocked } from '../relay/session.js';
import { withSpinner } from '../terminal/spinner.js';

/** The key file a login wrote beside a history it kept aside (history-aside.ts). */
const asideKeySchema = z.strictObject({
  identifier: identifierSchema,
  username: z.string().max(32),
  kdf: kdfParamsSchema,
  historyKey: wrappedHistoryKeySchema,
});

/** Messages copied per transaction. */
const BATCH = 1_000;

/**
 * `history-unlock <file>`: reads a history a login kept aside (`history.db.locked-<day>`) with the
 * password it was made under and copies its messages into this profile's local history (same
 * account only). The current password comes first, then the old one (with --password-stdin, the
 * second line). The file aside is left as it was: the user removes it once satisfied.
 */
export async function historyUnlockCommand(ctx: CliContext, file: string): Promise<void> {
  const unlocked = await openUnlocked(ctx.home(), () => ctx.password(false));
  let saved: unknown;
  try {
    saved = JSON.parse(await readFile(file + ASIDE_KEY_SUFFIX, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `No key beside ${file} (${file}${ASIDE_KEY_SUFFIX}: ${(error as Error).message}): only a history a login kept aside can be unlocked.`,
    );
  }
  const aside = parseWire(asideKeySchema, saved, 'history key file');
  if (aside.identifier !== unlocked.account.identifier)
    throw new UsageError(
      `${file} is the history of the account ${aside.username}, not ${unlocked.account.username}: log in as ${aside.username} (in another --home) to read it.`,
    );
  ctx.forgetPassword();
  const oldPassword = await ctx.password(false);
  const keys = await withSpinner('Deriving keys from the old password', () =>
    derivePasswordKeys(oldPassword, aside.identifier, aside.kdf),
  );
  const key = unwrapHistoryKey(aside.historyKey, keys.historyWrapKey, aside.identifier);
  if (key === null)
    throw new HistoryLockedError(
      `The history kept aside in ${file} does not open with that password: give the password it was made under. Nothing was changed.`,
    );
  const old = HistoryStore.open(dirname(file), key, undefined, basename(file));
  let copied = 0;
  let read = 0;
  try {
    const history = await openHistory(unlocked);
    for (let after = 0; ;) {
      const batch = old.everything(after, BATCH);
      if (batch.length === 0) break;
      read += batch.length;
      copied += history.add(batch).added;
      after = batch[batch.length - 1]?.seq ?? Number.MAX_SAFE_INTEGER;
    }
  } finally {
    old.close();
    unlocked.history?.close();
  }
  ctx.print(
    `Read ${read} messages of ${file}; ${copied} were new to the local history. ${file} is unchanged: remove it (and ${basename(file)}${ASIDE_KEY_SUFFIX}, -wal, -shm) when you no longer need it.`,
    { file, read, copied },
  );
}
