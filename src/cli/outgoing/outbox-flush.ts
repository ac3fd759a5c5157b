import { loadOutbox, outboxId, saveOutbox, type OutboxEntry } from './outbox.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';

/** A rate-limited queued message is tried again after this pause, at most this many times. */
const RATE_LIMIT_PAUSE_MS = 1_000;
const RATE_LIMIT_TRIES = 5;

/** Messages the chat screen queued could not all be sent, so a new one would overtake them. */
export class OutboxFlushError extends Error {
  override readonly name = 'OutboxFlushError';
}

/** What a flush did: messages now stored by the relay, and ones it refused (kept, marked failed). */
export interface FlushResult {
  readonly sent: number;
  readonly refused: number;
}

async function sendEntry(session: Session, entry: OutboxEntry): Promise<string | null> {
  for (const packet of entry.packets) {
    for (let attempt = 1; ; attempt++) {
      try {
        await session.client.send(packet);
        break;
      } catch (error) {
        if (!(error instanceof RelayRefusedError)) throw error;
        if (error.code !== 'RATE_LIMITED' || attempt >= RATE_LIMIT_TRIES) return error.message;
        await new Promise((resolve) => setTimeout(resolve, RATE_LIMIT_PAUSE_MS));
      }
    }
  }
  return null;
}

/**
 * Sends, in order and with their sealed packet ids (so never twice), the messages the chat screen
 * left in outbox.json, before a command does anything else with the relay: a later `send` from the
 * same profile must not overtake them. A refused message stays queued, marked failed (the chat
 * screen offers Ctrl+R); no answer stops the flush and throws, leaving the rest queued.
 */
export async function flushOutbox(session: Session): Promise<FlushResult> {
  const entries = await loadOutbox(session.home);
  const done = new Set<string>();
  const failures = new Map<string, string>();
  try {
    for (const entry of entries) {
      if (entry.failure !== undefined) continue;
      let failure: string | null;
      try {
        failure = await sendEntry(session, entry);
      } catch (error) {
        const left =
          entries.filter((e) => e.failure === undefined).length - done.size - failures.size;
        throw new OutboxFlushError(
          `${left} message${left === 1 ? '' : 's'} queued by the chat screen could not be sent first (${(error as Error).message}); they stay queued, and nothing new was sent.`,
          { cause: error },
        );
      }
      if (failure === null) done.add(outboxId(entry));
      else failures.set(outboxId(entry), failure);
    }
  } finally {
    if (done.size > 0 || failures.size > 0) {
      // Read again: a chat screen may have queued more meanwhile; only what was settled here goes.
      const now = await loadOutbox(session.home);
      const kept = now
        .filter((entry) => !done.has(outboxId(entry)))
        .map((entry) => {
          const failure = failures.get(outboxId(entry));
          return failure === undefined ? entry : { ...entry, failure };
        });
      await saveOutbox(session.home, kept);
    }
  }
  return { sent: done.size, refused: failures.size };
}
