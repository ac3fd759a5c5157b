// The history of an unlocked profile: its key (made on first use, wrapped under the password) and the open store.

import { newHistoryKey, unwrapHistoryKey, wrapHistoryKey } from '../../core/index.js';
import type { Account } from '../relay/account.js';
import { saveProfile, type Profile } from '../profile/profile.js';
import { oneLine } from '../terminal/terminal-text.js';
import {
  HistoryCorruptError,
  HistoryLockedError,
  HistoryTooNewError,
  isSqliteRefusal,
} from './history-errors.js';
import { setHistoryEvidence } from './history-evidence.js';
import { GROUP_RECIPIENT_PREFIX } from './history-changes.js';
import { HistoryStore, type HistoryMessage } from './history-store.js';

/** A profile unlocked with its password: what the history needs, and the history once open. */
export interface HistoryHolder {
  readonly home: string;
  readonly profile: Profile;
  readonly account: Account;
  /** This device's open history, if the command keeps one (absent: none, or it did not open). */
  history?: HistoryStore | undefined;
}

/** The wrapped key the profile holds now. */
function savedKey(profile: Profile): Profile['historyKey'] {
  return profile.historyKey;
}

/**
 * The profile's history key: unwrapped with the password-derived wrap key, or, the first time,
 * made at random, wrapped and saved at once (under the profile lock; if another process made
 * one meanwhile, the one on disk wins and is used).
 */
export async function historyKey(holder: HistoryHolder): Promise<Uint8Array> {
  const { home, profile, account } = holder;
  const wrapKey = account.historyWrapKey;
  if (wrapKey === undefined) throw new TypeError('The profile is not unlocked with its password.');
  let wrapped = profile.historyKey;
  if (wrapped === undefined) {
    profile.historyKey = wrapHistoryKey(newHistoryKey(), wrapKey, account.identifier);
    await saveProfile(home, profile);
    // The save merged with the disk: another process's key, made meanwhile, may have won.
    wrapped = savedKey(profile);
  }
  const key = wrapped === undefined ? null : unwrapHistoryKey(wrapped, wrapKey, account.identifier);
  if (key === null)
    throw new HistoryLockedError(
      'The local history key in the profile does not open with this password (it was wrapped under another one): log in again on this device to start a new history.',
    );
  return key;
}

/** Opens this profile's history (HISTORY_LOCKED, HISTORY_CORRUPT when it cannot) and keeps it on the holder. */
export async function openHistory(holder: HistoryHolder): Promise<HistoryStore> {
  if (holder.history === undefined) {
    const history = HistoryStore.open(holder.home, await historyKey(holder));
    if (history.modesFixed.length > 0) {
      const files = history.modesFixed.map(
        ({ path, mode }) => `${path} (mode 0${mode.toString(8)})`,
      );
      process.stderr.write(
        `metachat: ${oneLine(`The local history was open to other users of this machine: ${files.join(', ')}; made 0600 (owner only).`)}\n`,
      );
    }
    holder.history = history;
    setHistoryEvidence(holder.profile, history);
  }
  return holder.history;
}

/**
 * A failure of the optional history: locked, damaged, or refused by SQLite (busy past its wait,
 * disk full, read-only, I/O): the command goes on without it rather than failing after the relay
 * already did its part.
 */
function isHistoryFailure(error: unknown): error is Error {
  if (
    error instanceof HistoryLockedError ||
    error instanceof HistoryCorruptError ||
    error instanceof HistoryTooNewError
  )
    return true;
  return isSqliteRefusal(error);
}

function warnOnce(holder: HistoryHolder, error: Error): void {
  const typed =
    error instanceof HistoryLockedError ||
    error instanceof HistoryCorruptError ||
    error instanceof HistoryTooNewError;
  const code = String((error as { code?: unknown }).code);
  const said = typed
    ? error.message
    : `The local history ${holder.history?.path ?? ''} failed (${code}: ${error.message}).`;
  process.stderr.write(`metachat: ${oneLine(said)} Going on without it.\n`);
  holder.history?.close();
  holder.history = undefined;
  setHistoryEvidence(holder.profile, undefined);
}

/**
 * Opens the history for a command that works without it (history, listen, send, inbox, the chat
 * screen): a history that is locked or damaged is said once on stderr and left as it is.
 */
export async function attachHistory(holder: HistoryHolder): Promise<HistoryStore | undefined> {
  try {
    return await openHistory(holder);
  } catch (error) {
    if (!isHistoryFailure(error)) throw error;
    warnOnce(holder, error);
    return undefined;
  }
}

const fullWarned = new WeakSet<HistoryStore>();

/**
 * Whether a conversation is accepted (its messages are not a stranger's): a peer I wrote to (my
 * name went with it), compared keys with, or named; a group I wrote in, made, or was put in by
 * such a peer (its creator).
 */
function accepted(profile: Profile, conversation: string): boolean {
  if (conversation.startsWith(GROUP_RECIPIENT_PREFIX)) {
    const group = profile.groups?.[conversation.slice(GROUP_RECIPIENT_PREFIX.length)];
    if (group === undefined) return false;
    const creator = group.entries[0]?.author;
    return (
      group.helloAt !== undefined ||
      creator === profile.identifier ||
      (creator !== undefined && accepted(profile, creator))
    );
  }
  const record = profile.peers[conversation];
  return record?.helloSent === true || record?.verified === true || record?.alias !== undefined;
}

/** Keeps verified messages in the open history, if any; a damaged file is said once and let go. */
export function keepInHistory(
  holder: HistoryHolder,
  lines: readonly (HistoryMessage | { readonly warning: string } | null)[],
  placedBy: 'stream' | 'ack' = 'stream',
): void {
  const history = holder.history;
  if (history === undefined) return;
  const messages = lines.flatMap((line) => (line === null || 'warning' in line ? [] : [line]));
  if (messages.length === 0) return;
  try {
    const { full } = history.add(messages, placedBy, (peer) => accepted(holder.profile, peer));
    if (full && !fullWarned.has(history)) {
      fullWarned.add(history);
      process.stderr.write(
        `metachat: the local history ${history.path} holds ${history.size} messages, as many as it keeps; newer ones are not added to it (the relay still has them).\n`,
      );
    }
  } catch (error) {
    if (!isHistoryFailure(error)) throw error;
    warnOnce(holder, error);
  }
}
