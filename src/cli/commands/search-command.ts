import type { CliContext } from '../cli-context.js';
import { openHistory } from '../history/history-access.js';
import { openUnlocked } from '../relay/session.js';
import { peerLabel } from '../stream/peer-label.js';
import { localDateTime } from '../terminal/local-time.js';
import { indentContinuation, oneLine } from '../terminal/terminal-text.js';
import { resolvePeer } from './message-commands.js';

/**
 * `search`: full-text search of this device's local history (no relay needed), newest first.
 * Each result names the conversation, the time, the text and where it is (`seq`, packet `id`), so
 * `metachat history <peer> --around <id>` opens the conversation there. A locked or damaged
 * history is its typed error (HISTORY_LOCKED, HISTORY_CORRUPT): there is nothing else to search.
 */
export async function searchCommand(
  ctx: CliContext,
  words: string,
  options: { peer?: string | undefined; limit: number },
): Promise<void> {
  const unlocked = await openUnlocked(ctx.home(), () => ctx.password(false));
  const peer =
    options.peer === undefined ? undefined : resolvePeer(options.peer, unlocked).identifier;
  const history = await openHistory(unlocked);
  try {
    const hits = history.search(words, {
      limit: options.limit,
      ...(peer === undefined ? {} : { peer }),
    });
    if (hits.length === 0 && ctx.options().json !== true)
      process.stdout.write('No message in the local history has those words.\n');
    for (const hit of hits) {
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
