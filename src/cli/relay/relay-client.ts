import { io, type Socket } from 'socket.io-client';
import type { z } from 'zod';
import {
  challengeResultSchema,
  createAuthProof,
  deliveredNoticeSchema,
  emptyResultSchema,
  groupAppendResultSchema,
  deletionResultSchema,
  groupEntrySchema,
  groupListPageSchema,
  groupLogPageSchema,
  keyResultSchema,
  loginResultSchema,
  packetPageSchema,
  parseAck,
  parseWire,
  preloginResultSchema,
  presenceUpdateSchema,
  sendResultSchema,
  streamRecordSchema,
  type ChangePasswordRequest,
  type CredentialsStatement,
  type DeleteAccountRequest,
  type DeletionResult,
  type DeliveredNotice,
  type GroupAppendResult,
  type GroupEntry,
  type GroupListPage,
  type GroupLogPage,
  type KdfParams,
  type Packet,
  type PacketPage,
  type PresenceUpdate,
  type PrivateKey,
  type KeyRotation,
  type RegisterRequest,
  type ReplacedKey,
  type RotateKeyRequest,
  type GroupPacket,
  type StreamRecord,
  type WrappedPrivateKey,
} from '../../core/index.js';
import { oneLine } from '../terminal/terminal-text.js';

/** How long to wait for an acknowledgement before giving up on a request. */
const DEFAULT_TIMEOUT_MS = 15_000;

/** The relay refused a request; `code` is the wire code (docs/protocol.md section 12). */
export class RelayRefusedError extends Error {
  override readonly name = 'RelayRefusedError';

  constructor(
    readonly code: string,
    message: string,
  ) {
    // The relay's words reach the terminal: nothing in them may act on it.
    super(oneLine(message));
  }
}

/** The relay did not answer in time (or the connection dropped before it did). */
export class RelayTimeoutError extends Error {
  override readonly name = 'RelayTimeoutError';
}

/** The relay could not be reached at all. */
export class RelayUnreachableError extends Error {
  override readonly name = 'RelayUnreachableError';
}

/** Pushes from the relay, each parsed through its schema before a listener sees it. */
export interface RelayEvents {
  /** A stream record: a packet's or a group message's (isGroupRecord tells them apart). */
  packet: (stored: StreamRecord) => void;
  presence: (update: PresenceUpdate) => void;
  delivered: (notice: DeliveredNotice) => void;
  /** A group log entry was stored (docs/protocol.md section 16): verify it with the log, never alone. */
  'group-entry': (entry: GroupEntry) => void;
  /** A push that failed its schema: shown as a warning, never acted on. */
  invalid: (event: string, error: Error) => void;
}

/** Options for connecting. */
export interface ConnectOptions {
  readonly timeoutMs?: number;
  /** Keep reconnecting after a drop (the TUI and `listen`); one-shot commands pass false. */
  readonly reconnect?: boolean;
  /** With `reconnect`: told once when the first attempt fails, so a waiting command is not silent. */
  readonly onWaiting?: (reason: string) => void;
}

/**
 * The client side of the relay protocol over socket.io-client: every request is acknowledged and
 * every answer and push is parsed from `unknown` through core's schemas, so a lying relay gets a
 * typed error instead of a crash.
 */
export class RelayClient {
  private constructor(
    readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {}

  /** Connects and resolves once the socket is up. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<RelayClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const socket = io(url, {
      transports: ['websocket'],
      reconnection: options.reconnect ?? false,
      timeout: timeoutMs,
      autoConnect: false,
    });
    await new Promise<void>((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        socket.off('connect', connected);
        socket.off('connect_error', refused);
        socket.off('disconnect', closed);
      };
      const fail = (reason: string) => {
        settle();
        socket.close();
        reject(new RelayUnreachableError(`Cannot reach the relay at ${url}: ${oneLine(reason)}`));
      };
      const connected = () => {
        settle();
        resolve();
      };
      let told = false;
      const refused = (error: Error) => {
        if (options.reconnect !== true) fail(error.message);
        else if (!told) {
          told = true;
          options.onWaiting?.(oneLine(error.message));
        }
      };
      // The transport can open and then close (a relay killed mid-handshake) before Socket.IO's
      // own connect arrives: without these two, a one-shot connect would wait forever.
      const closed = (reason: string) => {
        if (options.reconnect !== true)
          fail(`the connection closed during the handshake (${reason})`);
      };
      const timer = setTimeout(() => {
        if (options.reconnect !== true) fail('no answer in time');
      }, timeoutMs);
      socket.on('connect', connected);
      socket.on('connect_error', refused);
      socket.on('disconnect', closed);
      socket.connect();
    });
    return new RelayClient(socket, timeoutMs);
  }

  /** A client that keeps reconnecting on its own (the TUI); nothing happens until `socket.connect()`. */
  static persistent(
    url: string,
    options: { timeoutMs?: number; reconnectDelayMs?: number } = {},
  ): RelayClient {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const delay = options.reconnectDelayMs ?? 1_000;
    const socket = io(url, {
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: delay,
      reconnectionDelayMax: Math.max(delay, 5_000),
      timeout: timeoutMs,
      autoConnect: false,
    });
    return new RelayClient(socket, timeoutMs);
  }

  /** Subscribes to a push; the payload is parsed first, and a bad one goes to `invalid`. */
  on<E extends keyof RelayEvents>(event: E, listener: RelayEvents[E]): void {
    if (event === 'invalid') {
      this.invalidListeners.push(listener as RelayEvents['invalid']);
      return;
    }
    const schemas: Record<string, z.ZodType> = {
      packet: streamRecordSchema,
      presence: presenceUpdateSchema,
      delivered: deliveredNoticeSchema,
      'group-entry': groupEntrySchema,
    };
    const name: string = event;
    const schema = schemas[name];
    if (schema === undefined) return;
    this.socket.on(name, (payload: unknown) => {
      let parsed: unknown;
      try {
        parsed = parseWire(schema, payload, event);
      } catch (error) {
        for (const onInvalid of this.invalidListeners) onInvalid(event, error as Error);
        return;
      }
      (listener as (value: unknown) => void)(parsed);
    });
  }

  private readonly invalidListeners: RelayEvents['invalid'][] = [];

  /** The relay serves one page read (sync, history, group-log) per connection at a time. */
  private pageReads: Promise<unknown> = Promise.resolve();

  /** Queues a page read behind the one in flight, so two readers of one connection never collide. */
  private onePage<T>(read: () => Promise<T>): Promise<T> {
    const run = this.pageReads.then(read, read);
    this.pageReads = run.catch(() => undefined);
    return run;
  }

  private async request<T>(event: string, result: z.ZodType<T>, payload?: unknown): Promise<T> {
    let response: unknown;
    try {
      const timed = this.socket.timeout(this.timeoutMs);
      response =
        payload === undefined
          ? await timed.emitWithAck(event)
          : await timed.emitWithAck(event, payload);
    } catch {
      throw new RelayTimeoutError(`The relay did not answer "${event}" in time.`);
    }
    const ack = parseAck(result, response, `${event} acknowledgement`);
    if (!ack.ok) throw new RelayRefusedError(ack.error.code, ack.error.message);
    return ack.result;
  }

  async register(request: RegisterRequest): Promise<void> {
    await this.request('register', emptyResultSchema, request);
  }

  async prelogin(identifier: string): Promise<KdfParams> {
    return (await this.request('prelogin', preloginResultSchema, { identifier })).kdf;
  }

  async login(
    identifier: string,
    loginProof: string,
  ): Promise<{
    publicKey: string;
    wrappedPrivateKey: WrappedPrivateKey;
    credentials?: CredentialsStatement | undefined;
    replacedKeys?: ReplacedKey[] | undefined;
  }> {
    return this.request('login', loginResultSchema, { identifier, loginProof });
  }

  /** Replaces the account's key pair (docs/protocol.md 5b); needs an authenticated connection. */
  async rotateKey(request: RotateKeyRequest): Promise<void> {
    await this.request('rotate-key', emptyResultSchema, request);
  }

  /** Replaces the password (or the KDF parameters) on the relay; needs an authenticated connection. */
  async changePassword(request: ChangePasswordRequest): Promise<void> {
    await this.request('change-password', emptyResultSchema, request);
  }

  /** A fresh nonce of this connection (good for one authentication, or one account deletion). */
  async challenge(): Promise<string> {
    return (await this.request('challenge', challengeResultSchema)).nonce;
  }

  /** Deletes the account (docs/protocol.md 5c); the relay closes this connection right after. */
  async deleteAccount(request: DeleteAccountRequest): Promise<void> {
    await this.request('delete-account', emptyResultSchema, request);
  }

  /** Challenge, then prove possession of the private key: binds this connection to the identifier. */
  async authenticate(identifier: string, privateKey: PrivateKey): Promise<void> {
    const { nonce } = await this.request('challenge', challengeResultSchema);
    const proof = createAuthProof(privateKey, identifier, nonce);
    await this.request('authenticate', emptyResultSchema, { identifier, proof });
  }

  async key(identifier: string): Promise<string> {
    return (await this.lookup(identifier)).publicKey;
  }

  /** A user's key with the rotation statements served beside it (oldest first). */
  async lookup(identifier: string): Promise<{ publicKey: string; rotations: KeyRotation[] }> {
    const result = await this.request('key', keyResultSchema, { identifier });
    return { publicKey: result.publicKey, rotations: result.rotations ?? [] };
  }

  /** The tombstone of a deleted account: its last key and the deletion statement its owner signed. */
  async deletion(identifier: string): Promise<DeletionResult> {
    return this.request('deletion', deletionResultSchema, { identifier });
  }

  async send(packet: Packet): Promise<{ seq: number; serverTime: number; duplicate: boolean }> {
    return this.request('send', sendResultSchema, packet);
  }

  async sync(after: number, limit?: number): Promise<PacketPage> {
    return this.onePage(() =>
      this.request('sync', packetPageSchema, limit === undefined ? { after } : { after, limit }),
    );
  }

  async history(peer: string, before?: number, limit?: number): Promise<PacketPage> {
    return this.onePage(() =>
      this.request('history', packetPageSchema, {
        peer,
        ...(before === undefined ? {} : { before }),
        ...(limit === undefined ? {} : { limit }),
      }),
    );
  }

  /**
   * Sends a sealed group message (docs/protocol.md 16.5): the relay stores it once, in the stream
   * of every member at the head it names. `seq` is its place in the sender's stream.
   */
  async groupSend(
    message: GroupPacket,
  ): Promise<{ seq: number; serverTime: number; duplicate: boolean }> {
    return this.request('group-send', sendResultSchema, message);
  }

  /** One page of a group's messages in my stream, before a seq of mine (absent: the newest). */
  async groupHistory(group: string, before?: number, limit?: number): Promise<PacketPage> {
    return this.onePage(() =>
      this.request('history', packetPageSchema, {
        group,
        ...(before === undefined ? {} : { before }),
        ...(limit === undefined ? {} : { limit }),
      }),
    );
  }

  /** Appends a signed entry to a group's log (a create starts the group). */
  async groupAppend(entry: GroupEntry): Promise<GroupAppendResult> {
    return this.request('group-append', groupAppendResultSchema, entry);
  }

  /** One page of a group's log from an entry index on. */
  async groupLog(group: string, from?: number, limit?: number): Promise<GroupLogPage> {
    return this.onePage(() =>
      this.request('group-log', groupLogPageSchema, {
        group,
        ...(from === undefined ? {} : { from }),
        ...(limit === undefined ? {} : { limit }),
      }),
    );
  }

  /** One page of the groups whose log at the relay lists this account (verify each log before use). */
  async groupList(after?: string): Promise<GroupListPage> {
    return this.onePage(() =>
      this.request('group-list', groupListPageSchema, after === undefined ? {} : { after }),
    );
  }

  async receipt(upTo: number): Promise<void> {
    await this.request('receipt', emptyResultSchema, { upTo });
  }

  /** Sends any event with any payload and returns the raw acknowledgement: for tests and diagnostics. */
  async raw(event: string, ...args: unknown[]): Promise<unknown> {
    return this.socket.timeout(this.timeoutMs).emitWithAck(event, ...args);
  }

  close(): void {
    this.socket.close();
  }

  /**
   * Drops the connection as a network failure would (a flooding relay): a reconnecting client
   * reconnects and catches up from its mark; a one-shot one is done.
   */
  dropConnection(): void {
    this.socket.io.engine.close();
  }
}
