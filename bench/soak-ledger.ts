import type { Packet } from '../src/core/index.js';

/** One packet a soak device tried to send, and what became of it. */
export interface SentRecord {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly sig: string;
  /** The device that sent it (`account.device`). */
  readonly device: string;
  /** performance.now() of the first `send` request. */
  readonly firstAttempt: number;
  attempts: number;
  /** The acknowledgement that finally came: the sender's seq, and whether the relay had it already. */
  ack: { readonly seq: number; readonly duplicate: boolean } | undefined;
}

/**
 * What every device of the soak shares: each packet sent with its acknowledgement, the latencies
 * of live pushes, and refusals that should never happen. The delivery check reads it at the end.
 */
export class SoakLedger {
  readonly sent = new Map<string, SentRecord>();
  readonly latencies: number[] = [];
  /** Refusals a well-behaved client should never see, by code. */
  readonly refusals = new Map<string, number>();
  retries = 0;
  /** Retries the relay answered with `duplicate: true`: it had stored the packet, the ack was lost. */
  duplicateAcks = 0;
  acknowledged = 0;

  /** Called before each `send` request of a packet. */
  attempt(packet: Packet, device: string): void {
    const known = this.sent.get(packet.id);
    if (known) {
      known.attempts++;
      this.retries++;
      return;
    }
    this.sent.set(packet.id, {
      id: packet.id,
      from: packet.from,
      to: packet.to,
      sig: packet.sig,
      device,
      firstAttempt: performance.now(),
      attempts: 1,
      ack: undefined,
    });
  }

  acked(id: string, seq: number, duplicate: boolean): void {
    const record = this.sent.get(id);
    if (!record || record.ack) return;
    record.ack = { seq, duplicate };
    this.acknowledged++;
    if (duplicate) this.duplicateAcks++;
  }

  refused(code: string): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  /** A live push reached a device: send-to-receive latency, from the first send request. */
  pushed(id: string): void {
    const record = this.sent.get(id);
    if (record) this.latencies.push(performance.now() - record.firstAttempt);
  }
}
