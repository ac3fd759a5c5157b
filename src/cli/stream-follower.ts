import type { StoredPacket } from '../core/index.js';
import type { RelayClient } from './relay-client.js';
import type { StreamGuard, StreamIssue } from './stream-guard.js';

/**
 * What following the stream yields, in order: a packet not seen before (to verify and show; `issue`
 * warns that it came out of order), or a warning alone (a replay, withheld messages).
 */
export type StreamItem =
  | { readonly kind: 'packet'; readonly stored: StoredPacket; readonly issue?: StreamIssue }
  | { readonly kind: 'issue'; readonly issue: StreamIssue; readonly stored?: StoredPacket };

/** A running subscription to the stream. */
export interface StreamFollower {
  /** Resolves once everything received so far was handed over; rejects if a re-sync failed. */
  idle(): Promise<void>;
  /** Stops handing over pushes. */
  stop(): void;
  /** Catches up again (after a reconnection: pushes sent while away are only in `sync`). */
  resync(): Promise<void>;
}

/**
 * Catches up with `sync` from the guard's mark, then follows pushes, every packet checked by the
 * guard first. Pushes that arrive during the first sync wait for its end (a push and a page may
 * overlap). A push beyond the next position triggers a re-sync from the mark first: an honest relay
 * fills the hole (this device's own sends, acknowledged late, leave such holes), so packets are shown
 * in stream order, and what stays missing is reported as STREAM_GAP. Items are handed over one at a time, in order.
 * Resolves once the first catch-up was handed over (rejects if it failed).
 */
export async function followStream(
  client: RelayClient,
  guard: StreamGuard,
  deliver: (item: StreamItem) => Promise<void> | void,
): Promise<StreamFollower> {
  let syncing = true;
  let stopped = false;
  let failure: Error | undefined;
  const held: StoredPacket[] = [];
  let queue = Promise.resolve();
  const enqueue = (task: () => Promise<void>) => {
    const run = queue.then(task);
    queue = run.catch((error: unknown) => {
      failure ??= error instanceof Error ? error : new Error(String(error));
    });
    return run;
  };

  const take = async (stored: StoredPacket, source: 'page' | 'push') => {
    const verdict = guard.observe(stored, source);
    if (verdict.kind === 'duplicate') return;
    if (verdict.kind === 'replayed') await deliver({ kind: 'issue', issue: verdict.issue, stored });
    else
      await deliver(
        verdict.issue === undefined
          ? { kind: 'packet', stored }
          : { kind: 'packet', stored, issue: verdict.issue },
      );
  };

  const catchUp = async () => {
    guard.beginSync();
    for (let after = guard.seenUpTo, more = true; more;) {
      const page = await client.sync(after, 500);
      for (const stored of page.packets) await take(stored, 'page');
      const next = Math.max(after, ...page.packets.map((stored) => stored.seq));
      // A relay that says "more" without moving forward would keep us here forever.
      more = page.more && next > after;
      after = next;
    }
    const gap = guard.settle();
    if (gap) await deliver({ kind: 'issue', issue: gap });
  };

  const onPush = async (stored: StoredPacket) => {
    // A push beyond the next position: fetch what lies before it first, so it is shown in order.
    if (stored.seq > guard.seenUpTo + 1) await catchUp();
    await take(stored, 'push');
    if (guard.holes().count > 0) await catchUp();
  };

  client.on('packet', (stored) => {
    if (stopped) return;
    if (syncing) held.push(stored);
    else void enqueue(() => onPush(stored));
  });

  await enqueue(async () => {
    try {
      await catchUp();
    } finally {
      syncing = false;
    }
    for (const stored of held.splice(0)) await onPush(stored);
  });

  return {
    async idle() {
      await queue;
      if (failure !== undefined) throw failure;
    },
    stop() {
      stopped = true;
    },
    resync() {
      return enqueue(catchUp);
    },
  };
}
