import { rm } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import type { PresenceUpdate } from '../../core/index.js';
import { UsageError } from '../cli-errors.js';
import type { CliContext } from '../cli-context.js';
import { readFirstLine } from '../jsonrpc/first-line.js';
import { PeerSender } from '../jsonrpc/peer-sender.js';
import { GroupSender } from '../jsonrpc/group-methods.js';
import { RpcConnection } from '../jsonrpc/rpc-connection.js';
import { methodDispatch } from '../jsonrpc/rpc-methods.js';
import { followForRpc, type Notifier } from '../jsonrpc/rpc-stream.js';
import { SendPacer } from '../jsonrpc/send-pacer.js';
import { checkSocketPath, listenUnixSocket } from '../jsonrpc/unix-socket.js';
import { loadProfile, saveProfile } from '../profile/profile.js';
import { strangerPins, MAX_NEW_PEERS_PER_RUN } from '../profile/peers.js';
import type { Session } from '../relay/session.js';
import { oneLine } from '../terminal/terminal-text.js';
import { withSession } from './with-session.js';
import { attachHistory } from '../history/history-access.js';

/** A password line longer than this is a mistake, as for every other command. */
const MAX_PASSWORD_LINE = 8192;
/** Requests to the relay for sends, per second and in a burst: under the relay's default 200/s. */
const SEND_RATE = 160;
const SEND_BURST = 200;
/** A socket client that reads nothing for this long while the stream waits for it is dropped. */
const STALLED_READER_MS = 10_000;
/** How long a stopping mode waits for the stream's packet in hand, and for readers to take the last answers. */
const STOP_WAIT_MS = 300;
const FLUSH_WAIT_MS = 2_000;
/** The profile is saved this often while the mode runs (and once more when it stops). */
const SAVE_EVERY_MS = 30_000;

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Options of `metachat jsonrpc`. */
export interface JsonRpcOptions {
  readonly socket?: string;
}

/**
 * `jsonrpc`: unlocks the profile once and answers JSON-RPC 2.0 requests (send, history, inbox,
 * search, verify) on standard input/output, or on a Unix socket with --socket, one request per
 * line, on one authenticated connection to the relay, with notifications for incoming messages,
 * receipts, presence and warnings. Ctrl+C, SIGTERM or the end of standard input (without --socket)
 * stop it: sends in flight get their answers, the profile is saved, and it exits 0.
 */
export async function jsonrpcCommand(ctx: CliContext, options: JsonRpcOptions): Promise<void> {
  if (options.socket !== undefined) await checkSocketPath(options.socket);
  const password =
    ctx.options().passwordStdin === true
      ? await readFirstLine(process.stdin, MAX_PASSWORD_LINE)
      : await ctx.password(false);
  if (password.length === 0)
    throw new UsageError(
      '--password-stdin was given, but the first line of standard input is empty: it must hold the password.',
    );
  // With --socket, standard input held the password at most: reading on would keep the process up.
  if (options.socket !== undefined) process.stdin.destroy();
  const unlocked: CliContext = { ...ctx, password: () => Promise.resolve(password) };
  const url = ctx.server() ?? (await loadProfile(ctx.home())).server;
  const presence = new Map<string, PresenceUpdate>();
  const hub = new Hub(options.socket !== undefined);
  let waited = false;
  await withSession(
    unlocked,
    async (session) => {
      await attachHistory(session);
      if (waited) process.stderr.write(`metachat: the relay at ${url} answers now.\n`);
      await serve(session, hub, presence, options, url);
    },
    {
      onWaiting: (reason) => {
        waited = true;
        process.stderr.write(
          `metachat: cannot reach the relay at ${url} (${reason}); retrying until it answers…\n`,
        );
      },
    },
    (client) => {
      client.on('presence', (update) => {
        presence.set(update.identifier, update);
        hub.notify('presence', update);
      });
      client.on('delivered', (notice) => {
        hub.notify('receipt', notice);
      });
      client.on('invalid', (event, error) => {
        hub.notify('warning', {
          code: (error as { code?: unknown }).code ?? 'MALFORMED_INPUT',
          warning: `The relay pushed a "${event}" that is not valid: ${oneLine(error.message)}. It was ignored.`,
        });
      });
    },
  );
}

/** Every connected reader (one for standard input/output; any number on a socket). */
class Hub implements Notifier {
  readonly connections = new Set<RpcConnection>();

  constructor(private readonly dropsStalled: boolean) {}

  notify(method: string, params: unknown, droppable = true): void {
    for (const connection of this.connections) connection.notify(method, params, droppable);
  }

  async room(): Promise<void> {
    await Promise.all(
      [...this.connections].map(async (connection) => {
        if (!this.dropsStalled) return connection.room();
        const stalled = Symbol('stalled');
        const outcome = await Promise.race([
          connection.room(),
          delay(STALLED_READER_MS).then(() => stalled),
        ]);
        // A socket client that stopped reading must not hold up the others: it is dropped.
        if (outcome === stalled) {
          this.connections.delete(connection);
          await connection.close(0);
        }
        return undefined;
      }),
    );
  }
}

async function serve(
  session: Session,
  hub: Hub,
  presence: ReadonlyMap<string, PresenceUpdate>,
  options: JsonRpcOptions,
  url: string,
): Promise<void> {
  const stopping = new AbortController();
  let signals = 0;
  const stop = () => {
    signals++;
    if (signals > 1) {
      process.stderr.write('metachat: finishing the sends in flight, then saving…\n');
      return;
    }
    stopping.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const stopped = new Promise<void>((resolve) => {
    stopping.signal.addEventListener('abort', () => resolve());
  });
  const sender = new PeerSender(session, new SendPacer(SEND_RATE, SEND_BURST));
  const groups = new GroupSender(session);
  const dispatch = methodDispatch({ session, sender, groups, presence });
  let server: Server | undefined;
  const saver = setInterval(() => {
    saveProfile(session.home, session.profile).catch(() => undefined);
  }, SAVE_EVERY_MS);
  saver.unref();
  try {
    if (options.socket === undefined) {
      const connection = new RpcConnection(process.stdin, process.stdout, dispatch);
      hub.connections.add(connection);
      // The end of standard input is the end of the requests: answer them, then stop.
      void connection.inputEnded.then(() => stopping.abort());
    } else {
      server = await listenUnixSocket(options.socket);
      server.on('connection', (socket: Socket) => {
        if (stopping.signal.aborted) {
          socket.destroy();
          return;
        }
        const connection = new RpcConnection(socket, socket, dispatch);
        hub.connections.add(connection);
        socket.on('close', () => hub.connections.delete(connection));
      });
      process.stderr.write(`metachat: listening for JSON-RPC on ${options.socket}.\n`);
    }
    const { follower, remember } = await followForRpc(session, hub, stopping.signal);
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
          hub.notify('warning', {
            code: 'RESUME_FAILED',
            warning: `Could not resume after reconnecting: ${oneLine((error as Error).message)}`,
          });
        });
    });
    await stopped;
    // No new requests; the ones read get their answers (sends their acknowledgements).
    for (const connection of hub.connections) connection.stopReading();
    server?.close();
    await Promise.all([...hub.connections].map((connection) => connection.idle()));
    await sender.idle();
    await groups.idle();
    follower.stop();
    await Promise.race([follower.idle().catch(() => undefined), delay(STOP_WAIT_MS)]);
    remember();
  } finally {
    clearInterval(saver);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    server?.close();
    if (options.socket !== undefined) await rm(options.socket, { force: true });
    await Promise.all([...hub.connections].map((connection) => connection.close(FLUSH_WAIT_MS)));
  }
  const { refused } = strangerPins(session.profile);
  if (refused > 0)
    process.stderr.write(
      `metachat: ${String(refused)} messages came from more new senders than one run pins (${String(MAX_NEW_PEERS_PER_RUN)}); their keys were not pinned.\n`,
    );
}
