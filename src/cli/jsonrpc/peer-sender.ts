import type { Packet } from '../../core/index.js';
import { keyOf } from '../commands/message-commands.js';
import {
  composeMessage,
  markHelloSent,
  messageBody,
  type MessageBody,
} from '../outgoing/compose.js';
import { bodyFields } from '../stream/body-fields.js';
import type { PeerAddress } from '../profile/peers.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';
import { keepSent } from '../history/keep-sent.js';
import type { SendPacer } from './send-pacer.js';

/** What a `send` answers once the relay stored the message. */
export interface SendOutcome {
  readonly id: string;
  readonly seq: number;
  /** Set on the first message to a peer: the key pinned now, to compare out of band. */
  readonly firstContact?: { readonly fingerprint: string };
}

interface Pending {
  readonly address: PeerAddress;
  readonly body: MessageBody;
  readonly resolve: (outcome: SendOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/** Sends waiting for one peer that one key lookup serves at most. */
const BATCH = 64;
/** A packet refused with RATE_LIMITED (a relay stricter than the pacer) is retried this often. */
const RATE_LIMIT_TRIES = 8;
const RATE_LIMIT_PAUSE_MS = 250;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The JSON-RPC mode's `send`: messages to one peer are sealed and sent in the order they were
 * asked, pipelined on the one connection (the relay acknowledges each once stored). Each batch of
 * sends waiting for a peer gets a key lookup made after all of them were asked, checked against the
 * pin exactly as `metachat send` does (`keyOf`): a changed key refuses every send of the batch with
 * KEY_CHANGED. My username rides along once, as with `send`.
 */
export class PeerSender {
  private readonly queues = new Map<string, Pending[]>();
  private readonly helloSending = new Set<string>();
  private readonly unsettled = new Set<Promise<void>>();

  constructor(
    private readonly session: Session,
    private readonly pacer: SendPacer,
  ) {}

  /** Seals a text (or reply, edit, delete) for the peer and resolves once the relay stored it. */
  send(address: PeerAddress, content: string | MessageBody): Promise<SendOutcome> {
    return new Promise((resolve, reject) => {
      const item = { address, body: messageBody(content), resolve, reject };
      const queue = this.queues.get(address.identifier);
      if (queue !== undefined) {
        queue.push(item);
        return;
      }
      const fresh = [item];
      this.queues.set(address.identifier, fresh);
      this.track(this.drain(address.identifier, fresh));
    });
  }

  /** Resolves once every send asked so far has its answer (for a clean shutdown). */
  async idle(): Promise<void> {
    while (this.unsettled.size > 0) await Promise.allSettled([...this.unsettled]);
  }

  private track(task: Promise<void>): void {
    this.unsettled.add(task);
    void task.finally(() => this.unsettled.delete(task));
  }

  private async drain(peer: string, queue: Pending[]): Promise<void> {
    try {
      while (queue.length > 0) {
        const fingerprint = queue[0]?.address.fingerprint;
        let count = 1;
        while (
          count < queue.length &&
          count < BATCH &&
          queue[count]?.address.fingerprint === fingerprint
        )
          count++;
        await this.sendBatch(peer, queue.splice(0, count));
      }
    } finally {
      this.queues.delete(peer);
    }
  }

  private async sendBatch(peer: string, batch: Pending[]): Promise<void> {
    const { session } = this;
    const first = batch[0];
    if (first === undefined) return;
    const firstContact =
      session.profile.peers[peer]?.publicKey === undefined && peer !== session.account.identifier;
    let key;
    try {
      await this.pacer.take();
      key = await keyOf(session, first.address);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    for (const [index, item] of batch.entries()) {
      const { packets, hello } = composeMessage(
        session.account,
        session.profile,
        peer,
        key,
        item.body,
        !this.helloSending.has(peer),
      );
      const text = packets[packets.length - 1];
      if (text === undefined) continue;
      try {
        if (hello && packets[0] !== undefined) {
          // The hello is stored before the text, as `send` does: once per peer, so wait for it.
          this.helloSending.add(peer);
          try {
            await this.pacer.take();
            await this.deliver(packets[0]);
            markHelloSent(session.profile, peer);
          } finally {
            this.helloSending.delete(peer);
          }
        }
        await this.pacer.take();
      } catch (error) {
        item.reject(error);
        continue;
      }
      // Emitted now, in order; the acknowledgement is awaited without holding up the next one.
      const floor = session.profile.seenUpTo;
      const acked = this.deliver(text).then(
        (ack) => {
          keepSent(
            session,
            ack,
            {
              seq: ack.seq,
              id: text.id,
              from: text.from,
              to: text.to,
              time: text.time,
              ...bodyFields(item.body),
              direction: 'outgoing',
            },
            floor,
          );
          item.resolve({
            id: text.id,
            seq: ack.seq,
            ...(firstContact && index === 0
              ? { firstContact: { fingerprint: key.fingerprint } }
              : {}),
          });
        },
        (error: unknown) => item.reject(error),
      );
      this.track(acked);
    }
  }

  private async deliver(packet: Packet): Promise<{ seq: number; duplicate: boolean }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.session.client.send(packet);
      } catch (error) {
        if (
          !(error instanceof RelayRefusedError) ||
          error.code !== 'RATE_LIMITED' ||
          attempt >= RATE_LIMIT_TRIES
        )
          throw error;
        // The same sealed packet again: its id makes a second store impossible.
        await delay(RATE_LIMIT_PAUSE_MS * attempt);
      }
    }
  }
}
