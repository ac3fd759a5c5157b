import type { CliContext } from '../cli-context.js';
import { loadOutbox, OutboxCorruptError } from '../outgoing/outbox.js';
import { loadProfile, type Profile } from '../profile/profile.js';
import type { RelayUnreachableError } from '../relay/relay-client.js';
import { terminalJson } from '../terminal/terminal-text.js';
import { offlineGroupRow, offlineGroups } from './offline-groups.js';

/** One peer this device knows while the relay cannot be asked: no unread counts, no presence. */
export interface OfflineInboxEntry {
  readonly id: string;
  readonly name: string;
  readonly trust: 'verified' | 'pinned' | 'changed' | 'unknown';
  /** Messages sealed for this peer and waiting in the outbox. */
  readonly queued: number;
  readonly offline: true;
}

function trustOf(profile: Profile, id: string): OfflineInboxEntry['trust'] {
  const peer = profile.peers[id];
  if (peer?.changedKey !== undefined || peer?.disputed === true) return 'changed';
  if (peer?.publicKey === undefined) return 'unknown';
  return peer.verified === true ? 'verified' : 'pinned';
}

const TRUST_WORDS: Record<OfflineInboxEntry['trust'], string> = {
  verified: 'verified',
  pinned: 'key pinned, not verified',
  changed: 'KEY CHANGED',
  unknown: 'no key yet',
};

/**
 * `inbox` while the relay cannot be reached: says so (with the relay's address and why) on stderr,
 * then lists what this device knows from its own files: the groups whose logs it verified, the
 * peers it has pinned or named, their trust, and what waits in the outbox. Unread counts and presence need the relay, and are not guessed.
 */
export async function offlineInbox(ctx: CliContext, why: RelayUnreachableError): Promise<void> {
  const home = ctx.home();
  const profile = await loadProfile(home);
  let queued: string[] = [];
  try {
    queued = (await loadOutbox(home)).map((entry) => entry.peer);
  } catch (error) {
    if (!(error instanceof OutboxCorruptError)) throw error;
  }
  const ids = new Set([...Object.keys(profile.peers), ...queued]);
  ids.delete(profile.identifier);
  const entries: OfflineInboxEntry[] = [...ids].map((id) => {
    const peer = profile.peers[id];
    return {
      id,
      name: peer?.alias ?? peer?.username ?? `${id.slice(0, 12)}…`,
      trust: trustOf(profile, id),
      queued: queued.filter((peerId) => peerId === id).length,
      offline: true,
    };
  });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  process.stderr.write(
    `metachat: offline: ${why.message}. Showing what this device knows; unread counts and presence need the relay.\n`,
  );
  const groups = offlineGroups(profile);
  if (ctx.options().json === true) {
    for (const entry of groups) process.stdout.write(`${terminalJson(entry)}\n`);
    for (const entry of entries) process.stdout.write(`${JSON.stringify(entry)}\n`);
    return;
  }
  if (entries.length === 0 && groups.length === 0)
    process.stdout.write('Offline, and this device knows no conversations yet.\n');
  for (const entry of groups) process.stdout.write(`${offlineGroupRow(entry)}\n`);
  for (const entry of entries) {
    const waiting = entry.queued > 0 ? `  (${entry.queued} queued to send)` : '';
    process.stdout.write(`${entry.name.padEnd(24)} ${TRUST_WORDS[entry.trust]}${waiting}\n`);
  }
}
