import { destination, pino, type Logger } from 'pino';

/** Log levels the daemon accepts from METACHAT_LOG_LEVEL. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * JSON-lines logs on stderr (stdout carries only the listening line). Callers log events, codes and
 * counts: never packets, keys, proofs, usernames or passwords.
 */
export function createLogger(level: LogLevel): Logger {
  return pino(
    { level, base: { service: 'metachat-daemon' } },
    destination({ dest: 2, sync: true }),
  );
}
