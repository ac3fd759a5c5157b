import type { StreamRecord } from '../../core/index.js';
import type { RelayClient } from '../relay/relay-client.js';
import type { StreamGuard, StreamIssue } from './stream-guard.js';

/**
 * What following the stream yields, in order: a packet not seen before (to verify and show; `issue`
 * warns that it came out of order), or a warning alone (a replay, withheld messages, a lie about a
 * position, a catch-up cut short).
 */
export type StreamItem =
  | { readonly kind: 'packet'; readonly stored: StreamRecord; readonly issue?: StreamIssue }
  | { readonly kind: 'issue'; readonly issue: StreamIssue; readonly stored?: StreamRecord };

/**
 * Hands one item over. For a packet it answers whether the packet verified (signature, key,
 * addressee): only then does its position count, so a forged packet never moves the stream mark.
 */
export type StreamDeliver = (item: StreamItem) => Promise<boolean> | boolean;

/** A running subscription to the stream. */
export interface StreamFollower {
  /** Resolves once everything received so far was handed over; rejects if a re-sync failed. */
  idle(): Promise<void>;
  /** Stops handing anything over, at once: work in flight is abandoned and its failures ignored. */
  stop(): void;
  /** Catches up again (after a reconnection: pushes sent while away are only in `sync`). */
  resync(): Promise<void>;
}

/** How a follower is driven from outside. */
export interface FollowOptions {
  /** Aborting stops the follower at once, even during its first catch-up (Ctrl+C). */
  readonly signal?: AbortSignal;
  /** Called after each packet was counted or refused, and after each completed sync: persist the mark. */
  readonly onProgress?: () => void;
}

/** Sync pages one catch-up reads at most (500 packets each): a relay saying "more" forever stops here. */
export const MAX_PAGES = 1_000;
/** Pushes held (arriving during a catch-up, or faster than they are verified) before the connection is dropped. */
export const MAX_HELD_PUSHES = 2_000;
/** Bytes of held pushes (their strings, roughly as they came) before the connection is dropped. */
export const MAX_HELD_BYTES = 16 * 1024 * 1024;

/** Roughly what a stored packet costs to hold: the lengths of its strings. */
function sizeOf(stored: StreamRecord): number {
  let size = 64;
  const fields = 'packet' in stored ? stored.packet : stored.groupMessage;
  for (const value of Object.values(fields)) {
    if (typeof value === 'string') size += value.length;
    else if (Array.isArray(value)) for (const key of value) size += key.length;
  }
  return size;
}

/** The issue said when a catch-up stops at the page limit. */
function pageLimit(): StreamIssue {
  return {
    code: 'TOO_MANY_PAGES',
    message: `Stopped catching up after ${MAX_PAGES} pages: the relay keeps saying there is more. What was verified is shown and kept; the rest is fetched on the next catch-up.`,
  };
}

/** The issue said when pushes pile up faster than they can be checked. */
function overflow(): StreamIssue {
  return {
    code: 'PUSH_FLOOD',
    message: `The relay pushed more than ${MAX_HELD_PUSHES} packets (or ${MAX_HELD_BYTES / 1024 / 1024} MB) faster than they could be checked: the connection was dropped, and the stream is caught up page by page after reconnecting.`,
  };
}

/**
 * Catches up with `sync` from the guard's mark, then follows pushes, every packet checked by the
 * guard first and counted only once `deliver` says it verified. Pushes that arrive during a sync
 * wait for its end (a push and a page may overlap), within a bound: past MAX_HELD_PUSHES or
 * MAX_HELD_BYTES waiting, they are dropped with the connection (a reconnecting client catches up
 * from its mark), never held without limit. A push beyond the next position triggers a re-sync from
 * the mark first: an honest relay fills the hole (this device's own sends, acknowledged late, leave
 * such holes), so packets are shown in stream order, what stays missing is reported as STREAM_GAP,
 * and a push beyond the end of the relay's own pages is a lie (STREAM_JUMP). One catch-up reads at
 * most MAX_PAGES pages and says so. Items are handed over one at a time, in order. Resolves once the
 * first catch-up was handed over (rejects if it failed).
 */
export async function followStream(
  client: RelayClient,
  guard: StreamGuard,
  deliver: StreamDeliver,
  options: FollowOptions = {},
): Promise<StreamFollower> {
  let syncing = true;
  let stopped = options.signal?.aborted === true;
  options.signal?.addEventListener('abort', () => {
    stopped = true;
  });
  const isStopped = () => stopped;
  const progressed = () => {
    if (!stopped) options.onProgress?.();
  };
  let dropping = false;
  let failure: Error | undefined;
  const held: StreamRecord[] = [];
  let pending = 0;
  let pendingBytes = 0;
  let queue = Promise.resolve();
  const enqueue = (task: () => Promise<void>) => {
    const run = queue.then(() => (stopped ? undefined : task()));
    queue = run.catch((error: unknown) => {
      if (!stopped && !dropping)
        failure ??= error instanceof Error ? error : new Error(String(error));
    });
    return run;
  };

  const take = async (stored: StreamRecord, source: 'page' | 'push'): Promise<boolean> => {
    if (stopped) return false;
    const verdict = guard.observe(stored, source);
    if (verdict.kind === 'duplicate') return true;
    if (verdict.kind === 'replayed' || verdict.kind === 'jump') {
      await deliver({ kind: 'issue', issue: verdict.issue, stored });
      return verdict.kind !== 'jump';
    }
    const verified = await deliver(
      verdict.issue === undefined
        ? { kind: 'packet', stored }
        : { kind: 'packet', stored, issue: verdict.issue },
    );
    // Stopped while the packet was checked (Ctrl+C): it is abandoned, not counted.
    if (isStopped()) return false;
    if (verified) guard.accept(stored, source);
    else guard.refuse(stored);
    progressed();
    return true;
  };

  const catchUp = async () => {
    guard.beginSync();
    let after = guard.seenUpTo;
    let more = true;
    for (let pages = 0; more && !stopped; pages++) {
      if (pages === MAX_PAGES) {
        await deliver({ kind: 'issue', issue: pageLimit() });
        return;
      }
      const page = await client.sync(after, 500);
      let next = after;
      for (const stored of page.packets) {
        // A position the guard called a lie does not move the next page's start.
        if (await take(stored, 'page')) next = Math.max(next, stored.seq);
      }
      // A relay that says "more" without moving forward would keep us here forever.
      more = page.more && next > after;
      after = next;
    }
    if (stopped) return;
    const gap = guard.settle();
    progressed();
    if (gap) await deliver({ kind: 'issue', issue: gap });
  };

  const onPush = async (stored: StreamRecord) => {
    // A push beyond the next position: fetch what lies before it first, so it is shown in order.
    if (stored.seq > guard.seenUpTo + 1) await catchUp();
    await take(stored, 'push');
    if (guard.holes().count > 0) await catchUp();
  };

  const release = (stored: StreamRecord) => {
    pending--;
    pendingBytes -= sizeOf(stored);
  };

  client.on('packet', (stored) => {
    if (stopped || dropping) return;
    pending++;
    pendingBytes += sizeOf(stored);
    if (pending > MAX_HELD_PUSHES || pendingBytes > MAX_HELD_BYTES) {
      // Dropping what waits, and the connection that floods: the process stays, the mark is safe.
      dropping = true;
      for (const dropped of held.splice(0)) release(dropped);
      release(stored);
      client.dropConnection();
      void enqueue(async () => {
        await deliver({ kind: 'issue', issue: overflow() });
      });
      return;
    }
    if (syncing) held.push(stored);
    else
      void enqueue(async () => {
        if (dropping) return;
        try {
          await onPush(stored);
        } finally {
          release(stored);
        }
      });
  });

  const first = enqueue(async () => {
    try {
      await catchUp();
    } finally {
      syncing = false;
    }
    while (held.length > 0 && !stopped) {
      const stored = held.shift();
      if (stored === undefined) break;
      try {
        await onPush(stored);
      } finally {
        release(stored);
      }
    }
  });
  // Stopped meanwhile (Ctrl+C during the catch-up), or the connection dropped for flooding (the
  // catch-up resumes after reconnecting): what failed because of it does not matter.
  await first.catch((error: unknown) => {
    if (!stopped && !dropping) throw error;
  });

  return {
    async idle() {
      await queue;
      if (failure !== undefined && !stopped) throw failure;
    },
    stop() {
      stopped = true;
    },
    resync() {
      return enqueue(async () => {
        dropping = false;
        pending = 0;
        pendingBytes = 0;
        await catchUp();
      });
    },
  };
}
