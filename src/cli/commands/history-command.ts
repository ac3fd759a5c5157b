import type { CliContext } from '../cli-context.js';
import { UnknownMessageError } from '../history/history-errors.js';
import { attachHistory } from '../history/history-access.js';
import type { HistoryStore } from '../history/history-store.js';
import { presentHeld, presentLines, type ShownLine } from '../stream/present-lines.js';
import { loadProfile } from '../profile/profile.js';
import { RelayUnreachableError } from '../relay/relay-client.js';
import { openUnlocked } from '../relay/session.js';
import { readHistoryPage } from '../stream/history-page.js';
import { printStreamIssue } from '../stream/stream-warnings.js';
import { oneLine, terminalJson } from '../terminal/terminal-text.js';
import { resolvePeer, warnLookalike } from './message-commands.js';
import { printLine } from './print-line.js';
import { withUnlockedSession } from './with-session.js';
import { parseGroupTarget } from '../groups/group-address.js';
import { groupHistoryCommand } from './group-message-commands.js';
import { groupHistoryKey, heldGroupPage } from '../groups/group-kept.js';
import { groupLineText } from '../groups/group-line-text.js';

/** How long `history` waits for the relay's page before it shows what this device holds. */
const CACHE_FIRST_MS = 1_000;

/** Which page of a conversation `history` shows. */
export interface HistoryWindow {
  readonly limit: number;
  /** Only messages before this place in my stream (page backwards with the first seq shown). */
  readonly before?: number | undefined;
  /** The page around this packet id (from `metachat search`), found in the local history. */
  readonly around?: string | undefined;
}

/** The `before` that shows `around` in the middle of a page of `limit`, from the local history. */
function aroundBefore(
  history: HistoryStore | undefined,
  peer: string,
  around: string,
  limit: number,
): number {
  const hit = history?.find(peer, around.trim().toLowerCase());
  if (hit === undefined)
    throw new UnknownMessageError(
      `No message ${around} with this peer in this device's history (metachat search finds the ids it holds).`,
    );
  const later = history?.after(peer, hit.seq, Math.floor(limit / 2)) ?? [];
  return (later.at(-1)?.seq ?? hit.seq) + 1;
}

/** Says `history` is offline (stderr; with --json a last `{"offline":true,…}` line) and what it showed. */
async function sayOffline(
  ctx: CliContext,
  error: RelayUnreachableError,
  count: number,
  more: boolean,
  first: number | undefined,
  json: boolean,
): Promise<void> {
  const server = ctx.server() ?? (await loadProfile(ctx.home())).server;
  process.stderr.write(
    `metachat: offline: ${oneLine(error.message)}. Shown: the ${count} message${count === 1 ? '' : 's'} this device holds${more ? ' (older ones: --before ' + String(first ?? '') + ')' : ''}; anything newer needs the relay.\n`,
  );
  if (json)
    process.stdout.write(
      `${terminalJson({ offline: true, server, reason: error.message, cached: count, more })}\n`,
    );
}

/**
 * `history`: the messages with a peer, oldest first: the relay's page, verified and kept in the
 * local history. If the relay has not answered within a second, what this device holds is
 * printed at once and the relay's lines it lacked follow when they come (catching up). With the relay out of reach it says so (stderr; with --json a last
 * `{"offline":true,…}` line) and shows what this device holds; older pages need the relay. A group
 * (`group:<g>`) is the same, its kept messages read back under `group:<id>`.
 */
export async function historyCommand(
  ctx: CliContext,
  peerArg: string,
  window: HistoryWindow,
): Promise<void> {
  const json = ctx.options().json === true;
  const unlocked = await openUnlocked(ctx.home(), () => ctx.password(false));
  const group = parseGroupTarget(peerArg, unlocked.profile);
  if (group !== null) {
    // The relay's page, verified and kept; this device's copy when the relay is out of reach.
    const history = await attachHistory(unlocked);
    const { limit } = window;
    const before =
      window.around === undefined
        ? window.before
        : aroundBefore(history, groupHistoryKey(group), window.around, limit);
    // Read first: the history is closed once the session ends, reached or not.
    const held =
      history === undefined
        ? { lines: [], more: false }
        : heldGroupPage(unlocked.profile, history, group, limit, before);
    try {
      await withUnlockedSession(ctx, unlocked, (session) =>
        groupHistoryCommand(ctx, session, group, limit, before),
      );
    } catch (error) {
      if (!(error instanceof RelayUnreachableError)) throw error;
      for (const line of held.lines) ctx.print(groupLineText(unlocked.profile, line), line);
      await sayOffline(ctx, error, held.lines.length, held.more, held.lines[0]?.seq, json);
    }
    return;
  }
  const address = resolvePeer(peerArg, unlocked);
  warnLookalike(unlocked, address.identifier);
  const history = await attachHistory(unlocked);
  const { limit } = window;
  const before =
    window.around === undefined
      ? window.before
      : aroundBefore(history, address.identifier, window.around, limit);
  const cached = history?.page(address.identifier, limit, before) ?? { messages: [], more: false };
  const shown = new Set<string>();
  const show = (line: ShownLine) => {
    shown.add(`${line.from}/${line.id}`);
    printLine(ctx, unlocked, line);
  };
  // What this device holds is shown at once if the relay is slow to answer (or out of reach);
  // a relay that answers in time gives the page in order, each line once.
  let cacheShown = false;
  const showCache = () => {
    if (cacheShown) return;
    cacheShown = true;
    if (history === undefined) return;
    for (const line of presentHeld(cached.messages, address.identifier, history)) show(line);
  };
  const slow = setTimeout(showCache, CACHE_FIRST_MS);
  try {
    await withUnlockedSession(ctx, unlocked, async (session) => {
      const { items } = await readHistoryPage(session, address, limit, before);
      clearTimeout(slow);
      // Edits and deletes applied (from the page, and the history's knowledge beyond it).
      const presented = new Map(
        presentLines(
          items.flatMap((item) => (item.kind === 'line' ? [item.line] : [])),
          address.identifier,
          session.history,
        ).map((line) => [`${line.seq}/${line.id}`, line]),
      );
      for (const item of items) {
        if (item.kind === 'issue') {
          printStreamIssue(item.issue, json);
          continue;
        }
        const line = presented.get(`${item.line.seq}/${item.line.id}`);
        if (line !== undefined && (!('from' in line) || !shown.has(`${line.from}/${line.id}`)))
          printLine(ctx, session, line);
      }
    });
  } catch (error) {
    if (!(error instanceof RelayUnreachableError)) throw error;
    showCache();
    await sayOffline(
      ctx,
      error,
      cached.messages.length,
      cached.more,
      cached.messages[0]?.seq,
      json,
    );
  } finally {
    clearTimeout(slow);
  }
}
