// The typed failures of the local history: each says what happened and what to do, nothing is wiped.

/** The history file does not open with this profile's key (made under another login, or damaged at its start). */
export class HistoryLockedError extends Error {
  override readonly name = 'HistoryLockedError';
  readonly code = 'HISTORY_LOCKED';
}

/** The history file opened with the right key, but a page of it fails its check: it is damaged. */
export class HistoryCorruptError extends Error {
  override readonly name = 'HistoryCorruptError';
  readonly code = 'HISTORY_CORRUPT';
}

/** A message asked for by its packet id that this device's history does not hold. */
export class UnknownMessageError extends Error {
  override readonly name = 'UnknownMessageError';
  readonly code = 'UNKNOWN_MESSAGE';
}

/** An edit or delete of one of my messages that is already deleted: receivers would ignore it. */
export class MessageDeletedError extends Error {
  override readonly name = 'MessageDeletedError';
  readonly code = 'MESSAGE_DELETED';
}

/** The history file was written by a newer build (a higher schema version): left as it is. */
export class HistoryTooNewError extends Error {
  override readonly name = 'HistoryTooNewError';
  readonly code = 'HISTORY_TOO_NEW';
}

/** The SQLite codes of a file that is not what the key expects, or a damaged page. */
const DAMAGED = new Set([
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT',
  'SQLITE_CORRUPT_VTAB',
  'SQLITE_IOERR_AUTH',
]);

/** Whether an error thrown by the database says the file is damaged (or under another key). */
export function isDamage(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (DAMAGED.has(code) || code.startsWith('SQLITE_CORRUPT'));
}

/**
 * Whether an error is SQLite refusing (busy past its wait, full, read-only, I/O, damaged), by its
 * code: not `instanceof Error`, since the native module makes its errors with the constructor of the
 * first realm that loaded it (under Jest, another test file's).
 */
export function isSqliteRefusal(error: unknown): error is Error {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return typeof message === 'string' && typeof code === 'string' && code.startsWith('SQLITE_');
}
