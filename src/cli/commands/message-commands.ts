import type { CliContext } from '../cli-context.js';
import { isWarning, readStored } from '../stream/messages.js';
import { changeRefusal, withChangeState } from '../stream/change-state.js';
import {
  noSuchUser,
  parsePeerAddress,
  peerKey,
  strangerPins,
  MAX_NEW_PEERS_PER_RUN,
  usernameNotice,
  type PeerAddress,
} from '../profile/peers.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import { isGroupRecord, type PublicKey } from '../../core/index.js';
import { listenGroupRecord } from './group-message-commands.js';
import { peerLabel } from '../stream/peer-label.js';
import { followStream } from '../stream/stream-follower.js';
import { StreamGuard } from '../stream/stream-guard.js';
import { printStreamIssue } from '../stream/stream-warnings.js';
import type { Session, Unlocked } from '../relay/session.js';
import { withSession } from './with-session.js';
import { attachHistory } from '../history/history-access.js';
import { followGroupPushes } from '../groups/group-push-listener.js';
import { loadProfile } from '../profile/profile.js';
import { oneLine, terminalJson } from '../terminal/terminal-text.js';

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
            const read = await readStored(session, item.stored);
            if (stopping.signal.aborted) return false;
            // An edit or delete says what became of it (applied, pending, or its refusal code).
            const line = read === null ? null : withChangeState(session, read);
            const refusal = line === null ? null : changeRefusal(session, line);
            if (refusal !== null)
              process.stderr.write(`\u001b[31m!! ${oneLine(refusal.warning)}\u001b[0m\n`);
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
