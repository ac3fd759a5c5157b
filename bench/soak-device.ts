import type { Account } from '../src/cli/relay/account.js';
import { RelayClient, RelayRefusedError } from '../src/cli/relay/relay-client.js';
import { isGroupRecord, sealPacket, type Packet, type StreamRecord } from '../src/core/index.js';
import type { SoakLedger } from './soak-ledger.js';

/** Refusals a client answers by sending the same packet again. */
const RETRYABLE = new Set(['STORE_FAILED', 'RATE_LIMITED']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Timing of one device: how it paces its sends and how often it drops its connection. */
export interface DeviceTiming {
  /** Mean pause between two sends, in ms (uniform from 0 to twice this). */
  readonly intervalMs: number;
  /** Mean time between forced disconnects, in ms (exponential); 0 for none. */
  readonly churnMs: number;
  /** No send starts after this (Date.now()). */
  readonly until: number;
  /** Sends and reconnects give up after this (Date.now()). */
  readonly deadline: number;
}

/**
 * One device of a soak user: its own socket.io-client connection through the real RelayClient,
 * authenticated with the account's key. It records its user's stream from live pushes and from
 * `sync` catch-up after every (re)connection, sends sealed packets one at a time, and sends an
 * unacknowledged packet again with the same id after a reconnect.
 */
export class SoakDevice {
  /**
   * The stream as this device holds it (pushes, sync pages, and its own sends at their
   * acknowledged seq): seq to packet id, and every seq each id was held at.
   */
  readonly stream = new Map<number, string>();
  readonly seqsOf = new Map<string, Set<number>>();
  /** Packets whose seq or content did not match what this device saw before, or what was sent. */
  mismatches: string[] = [];
  /** Ids this device sent, in the order their acknowledgements came. */
  readonly acked: string[] = [];
  connects = 0;
  /** The relay URLs this device was authenticated on, over the run (more than one: it moved). */
  readonly urlsUsed = new Set<string>();
  forcedDrops = 0;
  /** Packets delivered again at the seq where this device already held them (push and catch-up overlap). */
  redelivered = 0;
  private contiguous = 0;
  private client: RelayClient | undefined;
  private connecting: Promise<RelayClient | undefined> | undefined;
  private stopped = false;
  private churnTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    readonly account: Account,
    private readonly url: () => string,
    private readonly ledger: SoakLedger,
    private readonly random: () => number,
    private readonly timing: DeviceTiming,
  ) {}

  get connected(): boolean {
    return this.client?.socket.connected === true;
  }

  /** Connects (or waits for the reconnection under way); undefined once stopped or past the deadline. */
  async ready(): Promise<RelayClient | undefined> {
    if (this.client?.socket.connected === true) return this.client;
    this.connecting ??= this.connectLoop(0).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectLoop(delayMs: number): Promise<RelayClient | undefined> {
    await sleep(delayMs);
    while (!this.stopped && Date.now() < this.timing.deadline) {
      let client: RelayClient | undefined;
      const url = this.url();
      try {
        client = await RelayClient.connect(url, { timeoutMs: 10_000 });
        const current = client;
        current.on('packet', (stored) => {
          this.record(stored);
          this.ledger.pushed(isGroupRecord(stored) ? stored.groupMessage.id : stored.packet.id);
        });
        current.socket.on('disconnect', () => {
          this.dropped(current);
        });
        await current.authenticate(this.account.identifier, this.account.keyPair.privateKey);
        await this.catchUp(current);
        if (current.socket.connected) {
          this.client = current;
          this.connects++;
          this.urlsUsed.add(url);
          return current;
        }
      } catch {
        client?.close();
      }
      await sleep(100 + this.random() * 400);
    }
    return undefined;
  }

  private dropped(client: RelayClient): void {
    if (client !== this.client) return;
    this.client = undefined;
    if (this.stopped) return;
    // A real client reconnects at once (after a short random delay) so pushes keep coming.
    this.connecting ??= this.connectLoop(50 + this.random() * 950).finally(() => {
      this.connecting = undefined;
    });
  }

  /** Reads the stream after the last seq held without gaps, page by page. */
  private async catchUp(client: RelayClient): Promise<void> {
    let after = this.contiguous;
    for (;;) {
      const page = await client.sync(after, 500);
      for (const stored of page.packets) this.record(stored);
      const last = page.packets.at(-1);
      if (!page.more || last === undefined) return;
      after = last.seq;
    }
  }

  private record(stored: StreamRecord): void {
    // The soak sends no group messages: one in its stream is a mismatch.
    if (isGroupRecord(stored)) {
      this.mismatches.push(`a group message at seq ${stored.seq}`);
      return;
    }
    const sent = this.ledger.sent.get(stored.packet.id);
    if (sent && sent.sig !== stored.packet.sig) {
      this.mismatches.push(`${stored.packet.id} differs from what was sent`);
    }
    if (this.stream.get(stored.seq) === stored.packet.id) this.redelivered++;
    this.hold(stored.seq, stored.packet.id);
  }

  /** Notes that this device holds packet `id` at `seq` of its user's stream. */
  private hold(seq: number, id: string): void {
    const seen = this.stream.get(seq);
    if (seen !== undefined && seen !== id) this.mismatches.push(`seq ${seq} holds two ids`);
    if (seen === undefined) this.stream.set(seq, id);
    const seqs = this.seqsOf.get(id) ?? new Set<number>();
    seqs.add(seq);
    this.seqsOf.set(id, seqs);
    while (this.stream.has(this.contiguous + 1)) this.contiguous++;
  }

  /** The whole stream as the relay has it now, read from seq 0: the reference for the check. */
  async readWholeStream(): Promise<Map<number, string>> {
    const client = await this.ready();
    if (client === undefined) throw new Error(`device ${this.name} could not reconnect`);
    const whole = new Map<number, string>();
    let after = 0;
    for (;;) {
      const page = await client.sync(after, 500);
      for (const stored of page.packets) {
        const { seq } = stored;
        if (whole.has(seq)) this.mismatches.push(`the relay served seq ${seq} twice`);
        whole.set(seq, isGroupRecord(stored) ? stored.groupMessage.id : stored.packet.id);
      }
      const last = page.packets.at(-1);
      if (!page.more || last === undefined) return whole;
      after = last.seq;
    }
  }

  /** Drops the connection at random moments (exponential gaps) until the sends end. */
  startChurn(): void {
    if (this.timing.churnMs <= 0) return;
    const gap = -Math.log(1 - this.random()) * this.timing.churnMs;
    this.churnTimer = setTimeout(() => {
      if (Date.now() >= this.timing.until || this.stopped) return;
      if (this.client?.socket.connected === true) {
        this.forcedDrops++;
        this.client.close();
      }
      this.startChurn();
    }, gap);
  }

  /** Sends to random peers until `until`, one packet at a time, each until acknowledged. */
  async run(pickPeer: () => Account): Promise<void> {
    while (!this.stopped) {
      await sleep(this.random() * 2 * this.timing.intervalMs);
      if (Date.now() >= this.timing.until) return;
      const peer = pickPeer();
      const packet = sealPacket({
        sender: { identifier: this.account.identifier, keyPair: this.account.keyPair },
        recipient: { identifier: peer.identifier, publicKey: peer.keyPair.publicKey },
        body: { v: 1, type: 'text', text: `soak ${this.name} to ${peer.username}` },
      });
      await this.deliver(packet);
    }
  }

  private async deliver(packet: Packet): Promise<void> {
    while (Date.now() < this.timing.deadline) {
      const client = await this.ready();
      if (client === undefined) return;
      this.ledger.attempt(packet, this.name);
      try {
        const ack = await client.send(packet);
        this.ledger.acked(packet.id, ack.seq, ack.duplicate);
        this.acked.push(packet.id);
        // The sender holds what it sent: the relay pushes it to the sender's other devices only.
        this.hold(ack.seq, packet.id);
        return;
      } catch (error) {
        if (error instanceof RelayRefusedError && !RETRYABLE.has(error.code)) {
          this.ledger.refused(error.code);
          return;
        }
        // No acknowledgement (the connection dropped or the relay died): same packet, same id.
        await sleep(50 + this.random() * 200);
      }
    }
  }

  /** The last catch-up, once every send is over: the device's view of its user's whole stream. */
  async finalSync(): Promise<void> {
    clearTimeout(this.churnTimer);
    const client = await this.ready();
    if (client === undefined) throw new Error(`device ${this.name} could not reconnect`);
    await this.catchUp(client);
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.churnTimer);
    this.client?.close();
  }
}
