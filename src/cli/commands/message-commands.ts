import { composeMessage, markHelloSent } from '../outgoing/compose.js';
import { UsageError } from '../cli-errors.js';
import type { CliContext } from '../cli-context.js';
import { isWarning, readStored, type MessageLine } from '../stream/messages.js';
import {
  firstContactNotice,
  noSuchUser,
  parsePeerAddress,
  peerKey,
  strangerPins,
  MAX_NEW_PEERS_PER_RUN,
  usernameNotice,
  type PeerAddress,
} from '../profile/peers.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import { refusalOf } from '../outgoing/message-refusal.js';
import { isGroupRecord, type PublicKey } from '../../core/index.js';
import { parseGroupTarget } from '../groups/group-address.js';
import { listenGroupRecord, sendGroupCommand } from './group-message-commands.js';
import { peerLabel } from '../stream/peer-label.js';
import { followStream } from '../stream/stream-follower.js';
import { StreamGuard } from '../stream/stream-guard.js';
import { printStreamIssue } from '../stream/stream-warnings.js';
import type { Session, Unlocked } from '../relay/session.js';
import { withSession } from './with-session.js';
import { attachHistory } from '../history/history-access.js';
import { keepSent, type SendAck } from '../history/keep-sent.js';
import { followGroupPushes } from '../groups/group-push-listener.js';
import { loadProfile } from '../profile/profile.js';
import { processStdin } from '../terminal/stdin-reader.js';
import { localDateTime } from '../terminal/local-time.js';
import { indentContinuation, oneLine, terminalJson } from '../terminal/terminal-text.js';

/** `send`: seals for the peer's pinned key (sending my username first, once) and waits for the relay's ack; `group:<g>` sends to a group. */
export async function sendCommand(
  ctx: CliContext,
  peerArg: string,
  words: string[],
): Promise<void> {
  const fromStdin = words.length === 1 && words[0] === '-';
  // With --password-stdin the password is the first line and the text the rest: read in that order.
  if (fromStdin) await ctx.password(false);
  const text = fromStdin ? (await processStdin.rest()).replace(/\r?\n$/, '') : words.join(' ');
  if (text.length === 0) throw new UsageError('The message is empty.');
  // The same words the chat screen's status line gives, before any password or connection.
  const refusal = refusalOf(text);
  if (refusal !== null) throw new UsageError(refusal);
  await withSession(ctx, async (session) => {
    const group = parseGroupTarget(peerArg, session.profile);
    if (group !== null) {
      await sendGroupCommand(ctx, session, group, text);
      return;
    }
    await attachHistory(session);
    const address = resolvePeer(peerArg, session);
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
      text,
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
          text,
          direction: 'outgoing',
        },
        floor,
      );
    ctx.print(`Sent (${id}).`, { id, seq: ack.seq });
  });
}

/** Parses a peer address, saying on stderr when a username was hashed into the identifier used. */
export function resolvePeer(peerArg: string, session: Unlocked): PeerAddress {
  const address = parsePeerAddress(peerArg, session.profile);
  const notice = usernameNotice(address);
  if (notice !== null) process.stderr.write(`metachat: ${notice}\n`);
  return address;
}

/** The peer's key; a username that names nobody on the relay is a usage error, said as such. */
export async function keyOf(session: Session, address: PeerAddress): Promise<PublicKey> {
  try {
    return await peerKey(session.client, session.profile, address);
  } catch (error) {
    const { username } = address;
    if (
      username !== undefined &&
      error instanceof RelayRefusedError &&
      error.code === 'UNKNOWN_IDENTIFIER'
    )
      throw noSuchUser({ ...address, username });
    throw error;
  }
}

/** A red line on stderr when a peer looks like another one, with its full identifier. */
export function warnLookalike(session: Unlocked, identifier: string): void {
  const label = peerLabel(session.profile, identifier);
  if (label.lookalike === undefined) return;
  process.stderr.write(
    `\u001b[31m!! ${oneLine(label.name)} looks like ${oneLine(label.lookalike)}, but is a different peer (${identifier}): check the full identifier before trusting what it says.\u001b[0m\n`,
  );
}

function render(session: Unlocked, line: MessageLine): string {
  if (isWarning(line)) return `!! ${line.warning}`;
  const time = localDateTime(line.time);
  // A name no other peer shares: a look-alike identifier never reads like a contact's.
  const who = line.direction === 'outgoing' ? 'me' : peerLabel(session.profile, line.from).name;
  // A peer's line feeds cannot start a line that reads like another message: continuation lines are prefixed.
  return `[${time}] ${oneLine(who)}: ${indentContinuation(line.text)}`;
}

/** Prints one line of a conversation: a message (stdout), or a red warning (stderr; with --json stdout too). */
export function printLine(ctx: CliContext, session: Unlocked, line: MessageLine): void {
  if (isWarning(line)) {
    process.stderr.write(`\u001b[31m${oneLine(render(session, line))}\u001b[0m\n`);
    if (ctx.options().json === true) process.stdout.write(`${terminalJson(line)}\n`);
    return;
  }
  ctx.print(render(session, line), line);
}

/** How long a stopping `listen` waits for the packet in hand before saving what was verified. */
const STOP_WAIT_MS = 300;

/** How long a Ctrl+C during the final save waits before it exits anyway. */
const LATE_EXIT_MS = 3_000;

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** `listen`: prints verified incoming messages as JSON lines, catching up first, until SIGINT or SIGTERM. */
export async function listenCommand(ctx: CliContext): Promise<void> {
  const url = ctx.server() ?? (await loadProfile(ctx.home())).server;
  let waited = false;
  await withSession(
    ctx,
    async (session) => {
      await attachHistory(session);
      if (waited) process.stderr.write(`metachat: the relay at ${url} answers now; catching up.\n`);
      // Listening for Ctrl+C before catching up: an interrupt during the catch-up still saves. The
      // first one stops at once: pending key lookups are cancelled by closing the connection, and
      // what was verified so far is saved; later ones only say that the save is under way.
      const stopping = new AbortController();
      let signals = 0;
      const onSignal = () => {
        signals++;
        if (signals > 1) {
          process.stderr.write('metachat: saving where listening stopped…\n');
          return;
        }
        stopping.abort();
        session.client.close();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const interrupted = new Promise<void>((resolve) => {
        stopping.signal.addEventListener('abort', () => {
          resolve();
        });
      });
      // Group log entries pushed meanwhile: verified into the group store, each change a line.
      const groupsIdle = followGroupPushes(
        session,
        (line) => {
          process.stdout.write(`${terminalJson(line)}\n`);
        },
        (line) => {
          process.stdout.write(`${terminalJson(line)}\n`);
          process.stderr.write(`\u001b[31m!! ${oneLine(line.warning)}\u001b[0m\n`);
        },
      );
      const guard = new StreamGuard({
        seenUpTo: session.profile.seenUpTo,
        remembered: session.profile.recentPackets,
      });
      const remember = () => {
        session.profile.seenUpTo = guard.seenUpTo;
        session.profile.recentPackets = guard.rememberedPackets();
      };
      let receipted = 0;
      const receipt = () => {
        if (guard.seenUpTo <= receipted || !session.client.socket.connected) return;
        receipted = guard.seenUpTo;
        session.client.receipt(receipted).catch(() => {
          receipted = 0;
        });
      };
      try {
        const follower = await followStream(
          session.client,
          guard,
          async (item) => {
            if (item.issue) printStreamIssue(item.issue, true);
            if (item.kind !== 'packet') return false;
            if (isGroupRecord(item.stored))
              return listenGroupRecord(session, item.stored, () => stopping.signal.aborted);
            const line = await readStored(session, item.stored);
            if (stopping.signal.aborted) return false;
            // My own messages from my other devices (and commands) too: "direction":"outgoing" marks them.
            if (line) {
              process.stdout.write(`${terminalJson(line)}\n`);
              if (isWarning(line))
                process.stderr.write(`\u001b[31m!! ${oneLine(line.warning)}\u001b[0m\n`);
            }
            return line === null || !isWarning(line);
          },
          {
            signal: stopping.signal,
            onProgress: () => {
              remember();
              receipt();
            },
          },
        );
        remember();
        receipt();
        // The relay binds identity per connection: after a reconnection, prove it again and catch up.
        session.client.socket.on('disconnect', (reason) => {
          if (reason !== 'io client disconnect')
            process.stderr.write(`metachat: lost the relay at ${url} (${reason}); reconnecting…\n`);
        });
        session.client.socket.on('connect', () => {
          process.stderr.write(`metachat: the relay at ${url} is back; catching up.\n`);
          session.client
            .authenticate(session.account.identifier, session.account.keyPair.privateKey)
            .then(() => follower.resync())
            .catch((error: unknown) => {
              process.stderr.write(
                `metachat: could not resume after reconnecting: ${oneLine((error as Error).message)}\n`,
              );
            });
        });
        await interrupted;
        follower.stop();
        // Whatever is still in flight was cancelled with the connection; never wait long for it.
        await Promise.race([
          Promise.all([follower.idle().catch(() => undefined), groupsIdle()]),
          delay(STOP_WAIT_MS),
        ]);
      } finally {
        remember();
        // The save comes after this (withSession): a later Ctrl+C must not cut it off, but it
        // never keeps the process more than a few seconds either.
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        const late = () => {
          process.stderr.write('metachat: saving where listening stopped…\n');
          setTimeout(() => process.exit(130), LATE_EXIT_MS).unref();
        };
        process.on('SIGINT', late);
        process.on('SIGTERM', late);
      }
      const { refused } = strangerPins(session.profile);
      if (refused > 0) {
        process.stderr.write(
          `metachat: ${String(refused)} messages came from more new senders than one run pins (${String(MAX_NEW_PEERS_PER_RUN)}); their keys were not pinned.\n`,
        );
      }
    },
    {
      onWaiting: (reason) => {
        waited = true;
        process.stderr.write(
          `metachat: cannot reach the relay at ${url} (${reason}); retrying until it answers…\n`,
        );
      },
    },
  );
}
