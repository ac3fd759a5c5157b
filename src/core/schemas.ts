import { z } from 'zod';
import { canonicalBase64Length } from './encoding.js';
import { MalformedEncodingError, MalformedInputError, OversizeError } from './errors.js';

const ENCODING_ISSUE = 'MALFORMED_ENCODING';

/**
 * Lowercase hex of exactly `digits` characters, judged in the order every field is: over-long text
 * is OVERSIZE unread, a character outside [0-9a-f] is MALFORMED_ENCODING, a short one MALFORMED_INPUT.
 */
export function hexDigits(digits: number) {
  return z
    .string()
    .max(digits)
    .superRefine((text, ctx) => {
      if (text.length > digits) return;
      if (!/^[0-9a-f]*$/.test(text)) {
        ctx.addIssue({
          code: 'custom',
          message: 'is not lowercase hex',
          params: { code: ENCODING_ISSUE },
        });
      } else if (text.length < digits) {
        ctx.addIssue({ code: 'custom', message: `must be ${digits} lowercase hex digits` });
      }
    });
}

/** A 64-hex-digit identifier (SHA-256 of a normalized username). */
export const identifierSchema = hexDigits(64);

/** A 32-hex-digit packet id (16 random bytes). */
export const packetIdSchema = hexDigits(32);

/** Canonical base64 whose decoded length lies in [min, max] bytes; oversize text is refused unread. */
export function base64Bytes(min: number, max = min) {
  const maxChars = Math.ceil(max / 3) * 4;
  return z
    .string()
    .max(maxChars)
    .superRefine((text, ctx) => {
      if (text.length > maxChars) return;
      const length = canonicalBase64Length(text);
      if (length === null) {
        ctx.addIssue({
          code: 'custom',
          message: 'is not canonical base64',
          params: { code: ENCODING_ISSUE },
        });
      } else if (length > max) {
        ctx.addIssue({
          code: 'too_big',
          maximum: max,
          origin: 'string',
          message: `decodes to more than ${max} bytes`,
        });
      } else if (length < min) {
        const expected = min === max ? `exactly ${min}` : `at least ${min}`;
        ctx.addIssue({ code: 'custom', message: `must decode to ${expected} bytes` });
      }
    });
}

/** A safe, non-negative integer of milliseconds since the Unix epoch. */
export const timestampSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const SAFE_PATH_PART = /^[A-Za-z0-9_]{1,32}$/;

/** What went wrong, from the issue's code alone: never the input's own text, which may hold escapes. */
function problem(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${issue.expected === 'int' ? 'an integer' : `of type ${issue.expected}`}`;
    case 'too_big':
      return `is too large (at most ${String(issue.maximum)})`;
    case 'too_small':
      return `is too small (at least ${String(issue.minimum)})`;
    case 'invalid_format':
      return 'is not in the expected format';
    case 'unrecognized_keys':
      return `has ${issue.keys.length} unexpected field(s)`;
    case 'invalid_value':
      return 'has a value that is not allowed';
    case 'invalid_union':
      return 'matches none of the allowed shapes';
    case 'not_multiple_of':
    case 'invalid_key':
    case 'invalid_element':
      return 'is invalid';
    case 'custom':
      return issue.message;
  }
}

function describe(issue: z.core.$ZodIssue, what: string): string {
  const path = issue.path
    .map((part) =>
      typeof part === 'number' || SAFE_PATH_PART.test(String(part)) ? String(part) : '?',
    )
    .join('.');
  return `${path ? `${what}.${path}` : what} ${problem(issue)}`;
}

/** A length limit of a string, array or collection: numeric ranges are shape errors, not sizes. */
function isSizeIssue(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'too_big' && !['number', 'int', 'bigint', 'date'].includes(issue.origin);
}

function pathKey(issue: z.core.$ZodIssue): string {
  return issue.path.map(String).join('\u0000');
}

function isEncodingIssue(issue: z.core.$ZodIssue): boolean {
  if (issue.code === 'invalid_format') return true;
  return issue.code === 'custom' && issue.params?.['code'] === ENCODING_ISSUE;
}

/**
 * Parses untrusted input from the network, disk or user through a schema, and turns every
 * failure into one typed error: oversize first, then encoding, then any other shape problem.
 */
export function parseWire<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues;
  // Zod still checks the length of a wrong-typed value that has one (a byte array where a string
  // belongs): that is a wrong type, not an oversize string.
  const wrongType = new Set(issues.filter((i) => i.code === 'invalid_type').map(pathKey));
  const oversize = issues.find((issue) => isSizeIssue(issue) && !wrongType.has(pathKey(issue)));
  if (oversize) throw new OversizeError(`${describe(oversize, what)}.`);
  const encoding = issues.find(isEncodingIssue);
  if (encoding) throw new MalformedEncodingError(`${describe(encoding, what)}.`);
  const first = issues[0];
  throw new MalformedInputError(first ? `${describe(first, what)}.` : `${what} is malformed.`);
}
