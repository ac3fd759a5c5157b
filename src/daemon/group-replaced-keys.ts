import { importPublicKey, type ReplacedMemberKey } from '../core/index.js';
import type { RelayContext } from './relay-context.js';

/**
 * The keys an account replaced by `rotate-key`, newest first, from the relay's own key directory
 * (each statement was verified when it was stored): a group log that names one of them still names
 * the account (docs/protocol.md 16.1). Never a key that a log or a message names.
 */
export async function replacedKeysOf(
  ctx: RelayContext,
  identifier: string,
): Promise<ReplacedMemberKey[]> {
  const record = await ctx.keys.get(identifier);
  return (record?.replacedKeys ?? []).map((r) => ({
    key: importPublicKey(r.publicKey),
    until: r.replacedAt,
  }));
}
