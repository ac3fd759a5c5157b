import { assertPasswordAcceptable, unwrapHistoryKey, wrapHistoryKey } from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { prepareCredentialsChange } from '../relay/account.js';
import { withSpinner } from '../terminal/spinner.js';
import { withSession } from './with-session.js';

/** What `passwd` tells the user about the devices it cannot reach. */
export const OTHER_DEVICES_NOTE =
  'Other devices logged in to this account keep working with the copy in their profile, which still opens with the OLD password, until they log in again ("metachat login --force") with the new one.';

/**
 * `passwd`: the current password (it unlocks this device's key and makes the current proof), then
 * the new one (twice at a terminal; with --password-stdin the second line). The relay takes the new
 * salt, KDF parameters, wrap and proof in one request and the old proof stops working at once.
 */
export async function passwdCommand(ctx: CliContext): Promise<void> {
  const generation = await withSession(ctx, async (session) => {
    const current = await ctx.password(false);
    ctx.forgetPassword();
    const next = await ctx.password(true, assertPasswordAcceptable);
    if (next === current) throw new UsageError('The new password is the same as the current one.');
    const seen = session.profile.credentialsGeneration ?? 0;
    const prepared = await withSpinner('Deriving keys from your new password', () =>
      prepareCredentialsChange(session.account, current, next, seen),
    );
    // The local history key, wrapped again under the new password (the history file is unchanged).
    const historyKey = session.profile.historyKey;
    const unwrapped =
      historyKey === undefined || session.account.historyWrapKey === undefined
        ? null
        : unwrapHistoryKey(historyKey, session.account.historyWrapKey, session.account.identifier);
    await session.client.changePassword(prepared.request);
    if (unwrapped !== null)
      session.profile.historyKey = wrapHistoryKey(
        unwrapped,
        prepared.historyWrapKey,
        session.account.identifier,
      );
    Object.assign(session.profile, {
      wrappedPrivateKey: prepared.wrappedPrivateKey,
      kdf: prepared.kdf,
      credentialsGeneration: prepared.generation,
    });
    if (prepared.replacedKeys.length > 0)
      session.profile.replacedKeys = prepared.replacedKeys.map((key) => key.wrapped);
    return prepared.generation;
  });
  ctx.print(`Password changed. ${OTHER_DEVICES_NOTE}`, {
    changed: true,
    generation,
    otherDevices: OTHER_DEVICES_NOTE,
  });
}
