import { CommanderError } from 'commander';
import { MetaChatError } from '../core/index.js';
import {
  AmbiguousGroupError,
  PeerBlockedError,
  ProfileExistsError,
  UnknownGroupError,
  UnknownPeerError,
  UnsentMessagesError,
  UsageError,
  UsernameTakenError,
  WrappedKeyRejectedError,
} from './cli-errors.js';
import { OutboxCorruptError } from './outgoing/outbox.js';
import {
  HistoryCorruptError,
  HistoryLockedError,
  HistoryTooNewError,
  MessageDeletedError,
  UnknownMessageError,
} from './history/history-errors.js';
import { GroupListUnorderedError } from './groups/group-discovery.js';
import { SearchTooLongError } from './history/search-query.js';
import { oneLine, terminalJson } from './terminal/terminal-text.js';
import { OutboxFlushError } from './outgoing/outbox-flush.js';
import { ProfileBusyError } from './profile/profile-lock.js';
import { GroupStoreFullError, TooManyGroupsError } from './profile/group-store.js';
import { ProfileReplacedError } from './profile/profile-merge.js';
import { NoProfileError, ProfileCorruptError } from './profile/profile.js';
import {
  RelayRefusedError,
  RelayTimeoutError,
  RelayUnreachableError,
} from './relay/relay-client.js';

/** Exit code of a command interrupted at a prompt (Ctrl+C), as shells report SIGINT. */
export const INTERRUPTED_EXIT = 130;

/** How one failure is reported: a stable code, a message a user can act on, and the exit code. */
export interface ErrorReport {
  readonly code: string;
  readonly message: string;
  readonly exitCode: number;
  /** Nothing is printed (Ctrl+C at a prompt). */
  readonly quiet: boolean;
}

const KNOWN: readonly (abstract new (...args: never[]) => Error)[] = [
  MetaChatError,
  RelayRefusedError,
  RelayTimeoutError,
  RelayUnreachableError,
  NoProfileError,
  ProfileCorruptError,
  ProfileExistsError,
  UsernameTakenError,
  PeerBlockedError,
  WrappedKeyRejectedError,
  UnsentMessagesError,
  OutboxCorruptError,
  OutboxFlushError,
  ProfileReplacedError,
  ProfileBusyError,
  TooManyGroupsError,
  GroupStoreFullError,
  GroupListUnorderedError,
  HistoryLockedError,
  HistoryCorruptError,
  HistoryTooNewError,
  MessageDeletedError,
];

/** `RelayUnreachableError` → `RELAY_UNREACHABLE`: the code of an error class without one of its own. */
function codeFromName(name: string): string {
  return name
    .replace(/Error$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase();
}

/** Maps any failure of a command to what the user is told (one line) and the exit code. */
export function reportOf(error: unknown): ErrorReport {
  if (error instanceof Error && error.name === 'ExitPromptError')
    return {
      code: 'INTERRUPTED',
      message: 'Interrupted.',
      exitCode: INTERRUPTED_EXIT,
      quiet: true,
    };
  if (error instanceof CommanderError) {
    const message = error.message.replace(/^error:\s*/, '');
    return { code: 'USAGE', message, exitCode: error.exitCode === 0 ? 0 : 2, quiet: true };
  }
  if (
    error instanceof UsageError ||
    error instanceof UnknownPeerError ||
    error instanceof UnknownGroupError ||
    error instanceof AmbiguousGroupError ||
    error instanceof SearchTooLongError ||
    error instanceof UnknownMessageError
  ) {
    return { code: codeFromName(error.name), message: error.message, exitCode: 2, quiet: false };
  }
  if (error instanceof Error && KNOWN.some((type) => error instanceof type)) {
    const own = (error as { code?: unknown }).code;
    const code = typeof own === 'string' ? own : codeFromName(error.name);
    return { code, message: error.message, exitCode: 1, quiet: false };
  }
  const message = `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
  return { code: 'UNEXPECTED', message, exitCode: 1, quiet: false };
}

/**
 * Writes the failure on stderr: `metachat: <message>`, or with --json one line
 * `{"error":{"code","message"}}`. A usage error commander already printed (with --json it prints
 * nothing) and Ctrl+C at a prompt are quiet in text mode.
 */
export function writeReport(report: ErrorReport, json: boolean): void {
  if (report.exitCode === 0) return;
  if (json) {
    const { code, message } = report;
    process.stderr.write(`${terminalJson({ error: { code, message } })}\n`);
  } else if (!report.quiet) {
    process.stderr.write(`metachat: ${oneLine(report.message)}\n`);
  }
}
