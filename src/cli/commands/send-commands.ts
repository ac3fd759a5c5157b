// `send` (a text, or with --reply-to a reply), `edit` and `delete`: one sealed body each, acknowledged.

import {
  checkChange,
  isChangeBody,
  pairConversation,
  type ChangeBody,
  type ChangeMessage,
  type MessageOrigin,
} from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { parseGroupTarget } from '../groups/group-address.js';
import { attachHistory } from '../history/history-access.js';
import { keepSent, type SendAck } from '../history/keep-sent.js';
import { MessageDeletedError, UnknownMessageError } from '../history/history-errors.js';
import { composeMessage, markHelloSent, type MessageBody } from '../outgoing/compose.js';
import { refusalOf } from '../outgoing/message-refusal.js';
import { firstContactNotice } from '../profile/peers.js';
import type { Session } from '../relay/session.js';
import { bodyFields } from '../stream/body-fields.js';
import { processStdin } from '../terminal/stdin-reader.js';
import { sendGroupCommand } from './group-message-commands.js';
import { keyOf, resolvePeer } from './message-commands.js';
import { withSession } from './with-session.js';

/** Options of `send`. */
export interface SendOptions {
  /** The packet id of the message this one replies to. */
  readonly replyTo?: string | undefined;
}

/** A packet id as typed: 32 hex digits (any case, trimmed), else a usage error. */
export function parsePacketIdArg(arg: string, what: string): string {
  const id = arg.trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(id))
    throw new UsageError(`${what} must be a packet id: 32 hex digits (as send and history print).`);
  return id;
}

/** The message text from the words, or from standard input for `-`; checked before any connection. */
async function readText(ctx: CliContext, words: string[]): Promise<string> {
  const fromStdin = words.length === 1 && words[0] === '-';
  // With --password-stdin the password is the first line and the text the rest: read in that order.
  if (fromStdin) await ctx.password(false);
  const text = fromStdin ? (await processStdin.rest()).replace(/\r?\n$/, '') : words.join(' ');
  if (text.length === 0) throw new UsageError('The message is empty.');
  // The same words the chat screen's status line gives, before any password or connection.
  const refusal = refusalOf(text);
  if (refusal !== null) throw new UsageError(refusal);
  return text;
}

/** `send`: seals for the peer's pinned key (sending my username first, once) and waits for the relay's ack; `group:<g>` sends to a group. */
export async function sendCommand(
  ctx: CliContext,
  peerArg: string,
  words: string[],
  options: SendOptions = {},
): Promise<void> {
  const replyTo =
    options.replyTo === undefined ? undefined : parsePacketIdArg(options.replyTo, '--reply-to');
  const text = await readText(ctx, words);
  await deliver(
    ctx,
    peerArg,
    replyTo === undefined
      ? { v: 1, type: 'text', text }
      : { v: 1, type: 'reply', target: replyTo, text },
  );
}

/** `edit <peer> <id> <text>`: new text for one of my messages with that peer (docs/protocol.md 8.1). */
export async function editCommand(
  ctx: CliContext,
  peerArg: string,
  idArg: string,
  words: string[],
): Promise<void> {
  const target = parsePacketIdArg(idArg, 'The message to edit');
  const text = await readText(ctx, words);
  await deliver(ctx, peerArg, { v: 1, type: 'edit', target, text });
}

/** `delete <peer> <id>`: hides one of my messages for everyone; the relay keeps its ciphertext. */
export async function deleteCommand(
  ctx: CliContext,
  peerArg: string,
  idArg: string,
): Promise<void> {
  const target = parsePacketIdArg(idArg, 'The message to delete');
  await deliver(ctx, peerArg, { v: 1, type: 'delete', target });
}

/**
 * The sender's own check of an edit or delete, by the rules the receivers apply: the target must
 * be in this device's history, in this conversation, mine, a text or reply, and not deleted.
 */
export function checkOwnChange(session: Session, peer: string, body: ChangeBody): void {
  const me = session.account.identifier;
  const held = session.history?.find(peer, body.target);
  if (held === undefined)
    throw new UnknownMessageError(
      `No message ${body.target} with this peer in this device's history: only a message this device sent or read can be changed (metachat history fetches them; an edit names the original message, never an edit).`,
    );
  const change: ChangeMessage = {
    id: '0'.repeat(32),
    from: me,
    conversation: pairConversation(me, peer),
    time: Date.now(),
    body,
  };
  const target: MessageOrigin = {
    id: held.id,
    from: held.from,
    conversation: pairConversation(held.from, held.to),
    time: held.time,
    body:
      held.replyTo === undefined
        ? { v: 1, type: 'text', text: held.text || '-' }
        : { v: 1, type: 'reply', target: held.replyTo, text: held.text || '-' },
  };
  checkChange(change, target);
  if (held.deleted === true)
    throw new MessageDeletedError(
      `Message ${body.target} is deleted: receivers ignore any change of it, so nothing was sent.`,
    );
}

async function deliver(ctx: CliContext, peerArg: string, body: MessageBody): Promise<void> {
  await withSession(ctx, async (session) => {
    const group = parseGroupTarget(peerArg, session.profile);
    if (group !== null) {
      // A sent group message is kept only once a page shows it: the members' clients apply the rules (8.1).
      await sendGroupCommand(ctx, session, group, body);
      return;
    }
    await attachHistory(session);
    const address = resolvePeer(peerArg, session);
    if (isChangeBody(body)) checkOwnChange(session, address.identifier, body);
    const firstContact = session.profile.peers[address.identifier]?.publicKey === undefined;
    const publicKey = await keyOf(session, address);
    if (firstContact && address.identifier !== session.account.identifier)
      process.stderr.write(
        `metachat: ${firstContactNotice(address.identifier, publicKey, peerArg.trim())}\n`,
      );
    const { packets, hello } = composeMessage(
      session.account,
      session.profile,
      address.identifier,
      publicKey,
      body,
    );
    const floor = session.profile.seenUpTo;
    let ack: SendAck = { seq: 0 };
    for (const packet of packets) {
      ack = await session.client.send(packet);
      if (hello) markHelloSent(session.profile, address.identifier);
    }
    const sent = packets.at(-1);
    const id = sent?.id ?? '';
    if (sent !== undefined)
      keepSent(
        session,
        ack,
        {
          seq: ack.seq,
          id,
          from: sent.from,
          to: sent.to,
          time: sent.time,
          ...bodyFields(body),
          direction: 'outgoing',
        },
        floor,
      );
    if (body.type === 'edit')
      ctx.print(`Edited ${body.target} (${id}).`, { id, seq: ack.seq, target: body.target });
    else if (body.type === 'delete')
      ctx.print(
        `Deleted ${body.target} for everyone (${id}); the relay keeps its ciphertext, and whoever already read it may keep a copy.`,
        { id, seq: ack.seq, target: body.target },
      );
    else ctx.print(`Sent (${id}).`, { id, seq: ack.seq });
  });
}
