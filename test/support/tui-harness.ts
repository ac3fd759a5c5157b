import { newProfile, type Account } from '../../src/cli/relay/account.js';
import { loadOutbox } from '../../src/cli/outgoing/outbox.js';
import type { Profile } from '../../src/cli/profile/profile.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { ChatController } from '../../src/cli/tui/chat-controller.js';
import type { ChatSnapshot } from '../../src/cli/tui/chat-state.js';
import type { HistoryStore } from '../../src/cli/history/history-store.js';

/** A fresh device profile for an account, as `register` or `login` would save it. */
export function profileFor(account: Account, server: string): Profile {
  return newProfile(account, server, true);
}

/**
 * Starts the TUI's controller for a device (its outbox read from `home`, its local history if
 * given), with fast reconnects.
 */
export async function startController(
  account: Account,
  profile: Profile,
  home: string,
  url: string,
  history?: HistoryStore,
): Promise<ChatController> {
  const controller = new ChatController({
    home,
    profile,
    account,
    client: RelayClient.persistent(url, { reconnectDelayMs: 100, timeoutMs: 3_000 }),
    outbox: await loadOutbox(home),
    history,
  });
  controller.start();
  return controller;
}

/** Resolves with the first snapshot that satisfies `predicate`, or fails after `ms`. */
export async function until(
  controller: ChatController,
  predicate: (snapshot: ChatSnapshot) => boolean,
  what: string,
  ms = 8_000,
): Promise<ChatSnapshot> {
  if (predicate(controller.getSnapshot())) return controller.getSnapshot();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      const last = controller.getSnapshot();
      const seen = JSON.stringify({
        arrivals: last.arrivals,
        notice: last.notice,
        conversations: last.conversations,
      });
      reject(new Error(`timed out waiting for ${what}; last snapshot: ${seen}`));
    }, ms);
    const stop = controller.subscribe(() => {
      const snapshot = controller.getSnapshot();
      if (!predicate(snapshot)) return;
      clearTimeout(timer);
      stop();
      resolve(snapshot);
    });
  });
}

/** The messages of one conversation in a snapshot. */
export function messagesWith(snapshot: ChatSnapshot, peer: string) {
  return snapshot.chats.get(peer)?.messages ?? [];
}
