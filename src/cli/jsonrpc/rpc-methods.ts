import type { PresenceUpdate } from '../../core/index.js';
import type { z } from 'zod';
import { UsageError } from '../cli-errors.js';
import { verifyPeer } from '../commands/trust-commands.js';
import { refusalOf } from '../outgoing/message-refusal.js';
import { parsePeerAddress } from '../profile/peers.js';
import type { Session } from '../relay/session.js';
import { readHistoryPage } from '../stream/history-page.js';
import { presentLines } from '../stream/present-lines.js';
import { checkOwnChange } from '../commands/send-commands.js';
import { scanInbox } from '../stream/inbox-scan.js';
import { peerLabel } from '../stream/peer-label.js';
import { streamIssueJson } from '../stream/stream-warnings.js';
import type { PeerSender } from './peer-sender.js';
import { groupHistory, type GroupSender } from './group-methods.js';
import { GROUP_TARGET_PREFIX, parseGroupTarget } from '../groups/group-address.js';
import { groupHistoryKey, groupSearchHit } from '../groups/group-kept.js';
import { RPC_CODES, RpcError } from './rpc-errors.js';
import { openHistory } from '../history/history-access.js';
import { isMethod, methodParams, type MethodName, type ParamsOf } from './rpc-schema.js';
import type { RpcDispatch } from './rpc-connection.js';

/** What the methods work with: the one session, its sender, and the presence the relay pushed. */
export interface MethodContext {
  readonly session: Session;
  readonly sender: PeerSender;
  /** Sends to `group:<g>`, one at a time. */
  readonly groups: GroupSender;
  readonly presence: ReadonlyMap<string, PresenceUpdate>;
}

/** A zod failure in words: where, and what was wrong (the first issue). */
function paramsProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'Invalid params.';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'params';
  return `Invalid params: ${where}: ${issue.message}.`;
}

type Handlers = { [M in MethodName]: (params: ParamsOf<M>) => Promise<unknown> };

function handlers({ session, sender, groups, presence }: MethodContext): Handlers {
  return {
    async send({ peer, text, replyTo }) {
      const refusal = refusalOf(text);
      if (refusal !== null) throw new UsageError(refusal);
      // `group:<g>` as `send` takes it: no peer address holds a colon.
      const group = parseGroupTarget(peer, session.profile);
      const content =
        replyTo === undefined ? text : ({ v: 1, type: 'reply', target: replyTo, text } as const);
      if (group !== null) return groups.send(group, content);
      const address = parsePeerAddress(peer, session.profile);
      const outcome = await sender.send(address, content);
      return { to: address.identifier, ...outcome };
    },
    async edit({ peer, id, text }) {
      const refusal = refusalOf(text);
      if (refusal !== null) throw new UsageError(refusal);
      const body = { v: 1, type: 'edit', target: id, text } as const;
      // A group's members' clients apply the rules (a sent group message is kept only once a page shows it).
      const group = parseGroupTarget(peer, session.profile);
      if (group !== null) return { target: id, ...(await groups.send(group, body)) };
      const address = parsePeerAddress(peer, session.profile);
      // The rules the receivers apply, checked here first (UNKNOWN_MESSAGE, EDIT_FORBIDDEN, ...).
      checkOwnChange(session, address.identifier, body);
      return { to: address.identifier, target: id, ...(await sender.send(address, body)) };
    },
    async delete({ peer, id }) {
      const body = { v: 1, type: 'delete', target: id } as const;
      const group = parseGroupTarget(peer, session.profile);
      if (group !== null) return { target: id, ...(await groups.send(group, body)) };
      const address = parsePeerAddress(peer, session.profile);
      checkOwnChange(session, address.identifier, body);
      return { to: address.identifier, target: id, ...(await sender.send(address, body)) };
    },
    async history({ peer, limit, before }) {
      const group = parseGroupTarget(peer, session.profile);
      if (group !== null) return groupHistory(session, group, limit ?? 50, before);
      const address = parsePeerAddress(peer, session.profile);
      const label = peerLabel(session.profile, address.identifier);
      const { items, more } = await readHistoryPage(session, address, limit ?? 50, before);
      return {
        peer: address.identifier,
        name: label.name,
        ...(label.lookalike === undefined ? {} : { lookalike: label.lookalike }),
        // Edits and deletes applied, refused ones as warning lines, replies quoted.
        messages: presentLines(
          items.flatMap((item) => (item.kind === 'line' ? [item.line] : [])),
          address.identifier,
          session.history,
        ),
        warnings: items.flatMap((item) =>
          item.kind === 'issue' ? [streamIssueJson(item.issue)] : [],
        ),
        more,
      };
    },
    async inbox() {
      const { entries, issues } = await scanInbox(session, presence);
      return { conversations: entries, warnings: issues.map(streamIssueJson) };
    },
    async search({ words, peer, limit }) {
      const group = peer === undefined ? null : parseGroupTarget(peer, session.profile);
      const identifier =
        peer === undefined
          ? undefined
          : group !== null
            ? groupHistoryKey(group)
            : parsePeerAddress(peer, session.profile).identifier;
      // Locked or damaged: its typed error (HISTORY_LOCKED, HISTORY_CORRUPT), every time asked.
      const history = await openHistory(session);
      const hits = history.search(words, {
        limit: limit ?? 50,
        ...(identifier === undefined ? {} : { peer: identifier }),
      });
      return {
        results: hits.map((hit) =>
          hit.peer.startsWith(GROUP_TARGET_PREFIX)
            ? groupSearchHit(session.profile, hit)
            : { ...hit, name: peerLabel(session.profile, hit.peer).name },
        ),
      };
    },
    async verify({ peer, trust }) {
      return (await verifyPeer(session, peer, trust === true)).json;
    },
  };
}

/**
 * The method table of `metachat jsonrpc`: each request's params are parsed from `unknown` through
 * the method's schema before anything runs, and every method does what its command does, on the
 * one session (the same key lookups, pins and markers, saved when the mode stops).
 */
export function methodDispatch(context: MethodContext): RpcDispatch {
  const table = handlers(context);
  return async (method, params) => {
    if (!isMethod(method))
      throw new RpcError(
        RPC_CODES.METHOD_NOT_FOUND,
        'METHOD_NOT_FOUND',
        `No method "${method}": the methods are ${Object.keys(methodParams).join(', ')}.`,
      );
    const parsed = methodParams[method].safeParse(params);
    if (!parsed.success)
      throw new RpcError(RPC_CODES.INVALID_PARAMS, 'INVALID_PARAMS', paramsProblem(parsed.error));
    const run = table[method] as (value: unknown) => Promise<unknown>;
    return run(parsed.data);
  };
}
