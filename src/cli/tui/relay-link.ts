import type { Account } from '../relay/account.js';
import { RelayRefusedError, type RelayClient } from '../relay/relay-client.js';
import type { ConnectionState } from './chat-state.js';

/** After this many failed reconnection attempts the header says offline (it keeps retrying). */
const OFFLINE_AFTER_ATTEMPTS = 10;
/** Wait before trying again when authentication timed out on a live socket. */
const AUTH_RETRY_MS = 3_000;

/** What the link reports: state changes, and each time the socket is authenticated again. */
export interface RelayLinkEvents {
  readonly onState: (state: ConnectionState) => void;
  readonly onAuthenticated: () => void;
}

/**
 * Keeps one relay connection alive for the TUI: socket.io reconnects with backoff, and every new
 * connection is authenticated again (the relay binds identity per connection). A refusal of the
 * authentication (say, the account is unknown to this relay) stops retrying and says why.
 */
export class RelayLink {
  private authenticated = false;
  private stopped = false;

  constructor(
    private readonly client: RelayClient,
    private readonly account: Account,
    private readonly events: RelayLinkEvents,
  ) {}

  /** True while the socket is connected and authenticated. */
  get online(): boolean {
    return this.authenticated;
  }

  /** Starts connecting; returns at once (the TUI works offline). */
  start(): void {
    const socket = this.client.socket;
    socket.on('connect', () => {
      void this.authenticate();
    });
    socket.on('disconnect', () => {
      this.authenticated = false;
      if (!this.stopped) this.events.onState({ status: 'reconnecting', attempt: 0 });
    });
    socket.io.on('reconnect_attempt', (attempt: number) => {
      this.events.onState(
        attempt > OFFLINE_AFTER_ATTEMPTS
          ? { status: 'offline', reason: `retrying (attempt ${attempt})` }
          : { status: 'reconnecting', attempt },
      );
    });
    this.events.onState({ status: 'connecting' });
    socket.connect();
  }

  private async authenticate(): Promise<void> {
    try {
      await this.client.authenticate(this.account.identifier, this.account.keyPair.privateKey);
    } catch (error) {
      const socket = this.client.socket;
      if (error instanceof RelayRefusedError) {
        this.stopped = true;
        socket.disconnect();
        this.events.onState({ status: 'offline', reason: error.message });
        return;
      }
      socket.disconnect();
      this.events.onState({ status: 'offline', reason: 'the relay did not answer; retrying' });
      setTimeout(() => {
        if (!this.stopped) socket.connect();
      }, AUTH_RETRY_MS).unref();
      return;
    }
    this.authenticated = true;
    this.events.onState({ status: 'connected' });
    this.events.onAuthenticated();
  }

  /** Closes the connection for good. */
  stop(): void {
    this.stopped = true;
    this.authenticated = false;
    this.client.close();
  }
}
