import { bytesToHex, utf8ToBytes } from './encoding.js';
import { sha256 } from './digest.js';
import { InvalidUsernameError } from './errors.js';

/** Shortest allowed username, after normalization. */
export const USERNAME_MIN_LENGTH = 3;
/** Longest allowed username, after normalization. */
export const USERNAME_MAX_LENGTH = 32;
/**
 * Input of more Unicode code points than this is refused before normalizing, so NFKC never runs on
 * huge strings. Code points, not UTF-16 units, so that every language counts the same.
 */
export const RAW_USERNAME_MAX_CODE_POINTS = 256;
const USERNAME_PATTERN = /^[a-z0-9._-]+$/;
const IDENTIFIER_PATTERN = /^[0-9a-f]{64}$/;

/** A username in its one canonical form (NFKC, trimmed, lowercased), so `Alice` and `alice` are one. */
export function normalizeUsername(raw: unknown): string {
  if (typeof raw !== 'string') throw new InvalidUsernameError('A username must be text.');
  if (codePointsOver(raw, RAW_USERNAME_MAX_CODE_POINTS)) {
    throw new InvalidUsernameError(
      `A username is at most ${USERNAME_MAX_LENGTH} characters; this input is far longer.`,
    );
  }
  const name = raw.normalize('NFKC').trim().toLowerCase();
  if (name.length < USERNAME_MIN_LENGTH || name.length > USERNAME_MAX_LENGTH) {
    throw new InvalidUsernameError(
      `A username is ${USERNAME_MIN_LENGTH} to ${USERNAME_MAX_LENGTH} characters long; this one has ${name.length}.`,
    );
  }
  if (!USERNAME_PATTERN.test(name)) {
    throw new InvalidUsernameError(
      'A username may contain only letters a-z, digits 0-9, dot, underscore and hyphen.',
    );
  }
  return name;
}

/** True when text has more than `max` code points; a lone surrogate counts as one. Bounded work. */
function codePointsOver(text: string, max: number): boolean {
  // A code point is one or two UTF-16 units, so the unit count brackets the code point count.
  if (text.length <= max) return false;
  if (text.length > 2 * max) return true;
  let count = 0;
  for (const _ of text) if (++count > max) return true;
  return false;
}

/** The pseudonymous identifier the server knows a user by: lowercase hex SHA-256 of the name. */
export function identifierFromUsername(raw: unknown): string {
  return bytesToHex(sha256(utf8ToBytes(normalizeUsername(raw))));
}

/** The username exchange's check: a claimed name counts only if it hashes to the sender's identifier. */
export function usernameMatchesIdentifier(username: string, identifier: string): boolean {
  try {
    return identifierFromUsername(username) === identifier;
  } catch {
    return false;
  }
}

/** True for a well-formed identifier (64 lowercase hex digits). */
export function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && IDENTIFIER_PATTERN.test(value);
}
