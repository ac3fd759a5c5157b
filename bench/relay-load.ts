import { io, type Socket } from 'socket.io-client';
import type { Packet } from '../src/core/index.js';

/** One sender and one receiver, and the packets the sender will send. */
export interface LoadPair {
  readonly sender: Socket;
  readonly receiver: Socket;
  readonly packets: readonly Packet[];
}

/** What one load run measured. */
export interface LoadResult {
  readonly messages: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Opens a websocket-only Socket.IO client and waits for it to connect. */
export async function openSocket(url: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** The p-th percentile of an ascending list (nearest rank); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Every sender sends its packets with at most `window` unacknowledged; latency is from the send
 * call to the push reaching the receiver. Bounded by count, and by `timeoutMs`.
 */
export async function runLoad(
  pairs: readonly LoadPair[],
  window: number,
  timeoutMs = 60_000,
): Promise<LoadResult> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const total = pairs.reduce((sum, pair) => sum + pair.packets.length, 0);
  let received = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const onPacket = (stored: { packet: { id: string } }) => {
    const start = sentAt.get(stored.packet.id);
    if (start === undefined) return;
    sentAt.delete(stored.packet.id);
    latencies.push(performance.now() - start);
    if (++received === total) finish();
  };
  for (const pair of pairs) pair.receiver.on('packet', onPacket);
  const started = performance.now();
  const senders = pairs.map(async (pair) => {
    let next = 0;
    const lane = async () => {
      while (next < pair.packets.length) {
        const packet = pair.packets[next++];
        if (!packet) return;
        sentAt.set(packet.id, performance.now());
        // No per-send timer: the whole run is bounded by one deadline, and the load generator
        // should spend its CPU on the load, not on timers.
        const ack = (await pair.sender.emitWithAck('send', packet)) as { ok: boolean };
        if (!ack.ok) throw new Error(`send refused: ${JSON.stringify(ack)}`);
      }
    };
    await Promise.all(Array.from({ length: window }, lane));
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(senders).then(() => done), deadline]);
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  for (const pair of pairs) pair.receiver.off('packet', onPacket);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    messages: received,
    seconds,
    perSecond: received / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}
