import { destination, pino, type Logger } from 'pino';

/** Log levels the daemon accepts from METACHAT_LOG_LEVEL. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Log bytes held for a stderr that does not keep up; past it, lines are dropped, not memory spent. */
const MAX_PENDING_LOG_BYTES = 16 * 1024 * 1024;

/**
 * JSON-lines logs on stderr (stdout carries only the listening line), written asynchronously so a
 * slow log pipe never stalls the event loop; `flushLogger` before exiting. Callers log events, codes
 * and counts: never packets, keys, proofs, usernames or passwords.
 */
export function createLogger(level: LogLevel): Logger {
  return pino(
    { level, base: { service: 'metachat-daemon' } },
    destination({ dest: 2, sync: false, maxLength: MAX_PENDING_LOG_BYTES }),
  );
}

/** Writes out what the logger still holds; resolves once it is written (or could not be). */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => {
        resolve();
      });
    } catch {
      resolve();
    }
  });
}
