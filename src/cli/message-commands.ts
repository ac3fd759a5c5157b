import { composeMessage, markHelloSent } from './compose.js';
import { UsageError } from './cli-errors.js';
import type { CliContext } from './main.js';
import { isWarning, readStored, type MessageLine } from './messages.js';
import {
  firstContactNotice,
  noSuchUser,
  parsePeerAddress,
  peerKey,
  usernameNotice,
  type PeerAddress,
} from './peers.js';
import { RelayRefusedError } from './relay-client.js';
import { refusalOf } from './tui/chat-outbox.js';
import type { PublicKey } from '../core/index.js';
import { followStream } from './stream-follower.js';
import { checkHistoryPage, hidesPacket, StreamGuard } from './stream-guard.js';
import { printStreamIssue } from './stream-warnings.js';
import type { Session } from './session.js';
import { withSession } from './with-session.js';
import { loadProfile } from './profile.js';
import { processStdin } from './stdin-reader.js';
import { localDateTime } from './local-time.js';

/** `send`: seals for the peer's pinned key (sending my username first, once) and waits for the relay's ack. */
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
    let ack = { seq: 0 };
    for (const packet of packets) {
      ack = await session.client.send(packet);
      if (hello) markHelloSent(session.profile, address.identifier);
    }
    const id = packets[packets.length - 1]?.id ?? '';
    ctx.print(`Sent (${id}).`, { id, seq: ack.seq });
  });
}

/** Parses a peer address, saying on stderr when a username was hashed into the identifier used. */
function resolvePeer(peerArg: string, session: Session): PeerAddress {
  const address = parsePeerAddress(peerArg, session.profile);
  const notice = usernameNotice(address);
  if (notice !== null) process.stderr.write(`metachat: ${notice}\n`);
  return address;
}

/** The peer's key; a username that names nobody on the relay is a usage error, said as such. */
async function keyOf(session: Session, address: PeerAddress): Promise<PublicKey> {
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

function render(session: Session, line: MessageLine): string {
  if (isWarning(line)) return `!! ${line.warning}`;
  const time = localDateTime(line.time);
  const peer = session.profile.peers[line.from];
  const who =
    line.direction === 'outgoing'
      ? 'me'
      : (peer?.alias ?? peer?.username ?? line.from.slice(0, 12));
  return `[${time}] ${who}: ${line.text}`;
}

function printLine(ctx: CliContext, session: Session, line: MessageLine): void {
  if (isWarning(line)) {
    process.stderr.write(`\u001b[31m${render(session, line)}\u001b[0m\n`);
    if (ctx.options().json === true) process.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  ctx.print(render(session, line), line);
}

/** `history`: the last messages with a peer, each verified and decrypted, oldest first. */
export async function historyCommand(
  ctx: CliContext,
  peerArg: string,
  limit: number,
): Promise<void> {
  await withSession(ctx, async (session) => {
    const address = resolvePeer(peerArg, session);
    const page = await session.client.history(address.identifier, undefined, limit);
    const issues = checkHistoryPage(
      {
        me: session.account.identifier,
        peer: address.identifier,
        remembered: session.profile.recentPackets,
      },
      page.packets,
    );
    let lastIncoming = 0;
    for (const [index, stored] of page.packets.entries()) {
      const issue = issues[index];
      if (issue) printStreamIssue(issue, ctx.options().json === true);
      if (issue && hidesPacket(issue)) continue;
      const line = await readStored(session, stored);
      if (line) printLine(ctx, session, line);
      if (line && !isWarning(line) && line.direction === 'incoming') lastIncoming = stored.seq;
    }
    const peer = session.profile.peers[address.identifier] ?? {};
    if (lastIncoming > (peer.readUpTo ?? 0)) {
      session.profile.peers[address.identifier] = { ...peer, readUpTo: lastIncoming };
    }
  });
}

/** `listen`: prints verified incoming messages as JSON lines, catching up first, until SIGINT or SIGTERM. */
export async function listenCommand(ctx: CliContext): Promise<void> {
  const url = ctx.server() ?? (await loadProfile(ctx.home())).server;
  let waited = false;
  await withSession(
    ctx,
    async (session) => {
      if (waited) process.stderr.write(`metachat: the relay at ${url} answers now; catching up.\n`);
      // Listening for Ctrl+C before catching up: an interrupt during the catch-up still saves.
      const interrupted = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
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
      const follower = await followStream(session.client, guard, async (item) => {
        if (item.issue) printStreamIssue(item.issue, true);
        if (item.kind === 'packet') {
          const line = await readStored(session, item.stored);
          // My own messages from my other devices (and commands) too: "direction":"outgoing" marks them.
          if (line) {
            process.stdout.write(`${JSON.stringify(line)}\n`);
            if (isWarning(line)) process.stderr.write(`\u001b[31m!! ${line.warning}\u001b[0m\n`);
          }
        }
        remember();
        receipt();
      });
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
              `metachat: could not resume after reconnecting: ${(error as Error).message}\n`,
            );
          });
      });
      await interrupted;
      follower.stop();
      try {
        await follower.idle();
      } finally {
        remember();
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
