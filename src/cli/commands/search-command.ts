import type { CliContext } from '../cli-context.js';
import { openHistory } from '../history/history-access.js';
import { openUnlocked } from '../relay/session.js';
import { peerLabel } from '../stream/peer-label.js';
import { localDateTime } from '../terminal/local-time.js';
import { indentContinuation, oneLine } from '../terminal/terminal-text.js';
import { resolvePeer } from './message-commands.js';
import { GROUP_TARGET_PREFIX, parseGroupTarget } from '../groups/group-address.js';
import { groupHistoryKey, groupSearchHit } from '../groups/group-kept.js';
import { groupLineText } from '../groups/group-line-text.js';
import type { HistoryMessage } from '../history/history-message.js';
import type { Profile } from '../profile/profile.js';

/** A group message found: `[time] [group] sender: text`, and how to open the group there. */
function printGroupHit(
  ctx: CliContext,
  profile: Profile,
  hit: HistoryMessage & { peer: string },
): void {
  const fields = groupSearchHit(profile, hit);
  ctx.print(
    `${groupLineText(profile, { ...fields, held: true })}\n    (seq ${hit.seq}; metachat history group:${fields.group} --around ${hit.id})`,
    fields,
  );
}

/**
 * `search`: full-text search of this device's local history (no relay needed), newest first.
 * Each result names the conversation, the time, the text and where it is (`seq`, packet `id`), so
 * `metachat history <peer> --around <id>` opens the conversation there. A group message names the
 * group and its sender (`--json`: `group`, `name`, `sender`); `--peer group:<g>` keeps one group. A locked or damaged
 * history is its typed error (HISTORY_LOCKED, HISTORY_CORRUPT): there is nothing else to search.
 */
export async function searchCommand(
  ctx: CliContext,
  words: string,
  options: { peer?: string | undefined; limit: number },
): Promise<void> {
  const unlocked = await openUnlocked(ctx.home(), () => ctx.password(false));
  const group =
    options.peer === undefined ? null : parseGroupTarget(options.peer, unlocked.profile);
  const peer =
    options.peer === undefined
      ? undefined
      : group !== null
        ? groupHistoryKey(group)
        : resolvePeer(options.peer, unlocked).identifier;
  const history = await openHistory(unlocked);
  try {
    const hits = history.search(words, {
      limit: options.limit,
      ...(peer === undefined ? {} : { peer }),
    });
    if (hits.length === 0 && ctx.options().json !== true)
      process.stdout.write('No message in the local history has those words.\n');
    for (const hit of hits) {
      if (hit.peer.startsWith(GROUP_TARGET_PREFIX)) {
        printGroupHit(ctx, unlocked.profile, hit);
        continue;
      }
      const name = peerLabel(unlocked.profile, hit.peer).name;
      const address = unlocked.profile.peers[hit.peer]?.alias ?? hit.peer;
      const who = hit.direction === 'outgoing' ? `me → ${oneLine(name)}` : oneLine(name);
      ctx.print(
        `[${localDateTime(hit.time)}] ${who}: ${indentContinuation(hit.text)}\n    (seq ${hit.seq}; metachat history ${oneLine(address)} --around ${hit.id})`,
        { ...hit, name },
      );
    }
  } finally {
    history.close();
  }
}
