import { z } from 'zod';
import { bytesToUtf8, utf8ByteLength, utf8ToBytes } from './encoding.js';
import {
  MalformedBodyError,
  MetaChatError,
  OversizeError,
  UnsupportedVersionError,
} from './errors.js';
import { normalizeUsername } from './identity.js';
import { PROTOCOL_VERSION } from './labels.js';
import { packetIdSchema, parseWire } from './schemas.js';

/** Largest text message, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 16 * 1024;
/** Largest encoded body (JSON, UTF-8) before encryption. */
export const MAX_BODY_BYTES = 40 * 1024;
/**
 * Refused in text so no message can drive a terminal or disguise itself: C0 controls but tab and
 * newline, DEL, C1 controls, bidirectional embeddings, overrides and isolates, line and paragraph
 * separators.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/;

const textSchema = z
  .string()
  .min(1)
  .max(MAX_TEXT_BYTES)
  .superRefine((text, ctx) => {
    if (text.length > MAX_TEXT_BYTES) return;
    if (CONTROL_CHARACTERS.test(text)) {
      ctx.addIssue({ code: 'custom', message: 'contains control characters' });
      return;
    }
    const bytes = utf8ByteLength(text);
    if (bytes === null) {
      ctx.addIssue({ code: 'custom', message: 'is not valid Unicode' });
    } else if (bytes > MAX_TEXT_BYTES) {
      ctx.addIssue({
        code: 'too_big',
        maximum: MAX_TEXT_BYTES,
        origin: 'string',
        message: `is over ${MAX_TEXT_BYTES} UTF-8 bytes`,
      });
    }
  });

const usernameSchema = z
  .string()
  .max(32)
  .refine(
    (name) => {
      try {
        return normalizeUsername(name) === name;
      } catch {
        return false;
      }
    },
    { message: 'is not a normalized username' },
  );

/** A chat message. */
export const textBodySchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('text'),
  text: textSchema,
});

/** The paper's username exchange: the sender's username, only ever inside the encryption. */
export const helloBodySchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('hello'),
  username: usernameSchema,
});

/** New text for one of the sender's earlier messages (`target`: its packet id), docs/protocol.md 8.1. */
export const editBodySchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('edit'),
  target: packetIdSchema,
  text: textSchema,
});

/** Hides one of the sender's earlier messages for everyone (the relay keeps its ciphertext). */
export const deleteBodySchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('delete'),
  target: packetIdSchema,
});

/** A chat message that quotes an earlier message of the same conversation by its packet id. */
export const replyBodySchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('reply'),
  target: packetIdSchema,
  text: textSchema,
});

/** Everything a v1 packet can carry; a discriminated union so receipts can join later. */
export const bodySchema = z.discriminatedUnion('type', [
  textBodySchema,
  helloBodySchema,
  editBodySchema,
  deleteBodySchema,
  replyBodySchema,
]);

/** A decrypted message body. */
export type Body = z.infer<typeof bodySchema>;

/** Validates and serializes a body to its one canonical UTF-8 JSON form (sender side). */
export function encodeBody(body: Body): Uint8Array {
  return canonicalBytes(parseWire(bodySchema, body, 'body'));
}

/** The body's fields in the one order of docs/protocol.md section 8. */
function ordered(checked: Body): Record<string, unknown> {
  switch (checked.type) {
    case 'text':
      return { v: checked.v, type: checked.type, text: checked.text };
    case 'hello':
      return { v: checked.v, type: checked.type, username: checked.username };
    case 'delete':
      return { v: checked.v, type: checked.type, target: checked.target };
    case 'edit':
    case 'reply':
      return { v: checked.v, type: checked.type, target: checked.target, text: checked.text };
  }
}

function canonicalBytes(checked: Body): Uint8Array {
  const bytes = utf8ToBytes(JSON.stringify(ordered(checked)));
  if (bytes.length > MAX_BODY_BYTES) {
    throw new OversizeError(`The encoded body is over ${MAX_BODY_BYTES} bytes.`);
  }
  return bytes;
}

/** Parses decrypted bytes into a body (receiver side); anything off is MalformedBodyError. */
export function decodeBody(bytes: Uint8Array): Body {
  let value: unknown;
  try {
    if (bytes.length > MAX_BODY_BYTES) throw new OversizeError('The body is too large.');
    value = JSON.parse(bytesToUtf8(bytes, 'body'));
  } catch (cause) {
    throw new MalformedBodyError('The message decrypted, but its body is not valid JSON.', {
      cause,
    });
  }
  const version = (value as { v?: unknown } | null)?.v;
  if (typeof version === 'number' && Number.isInteger(version) && version !== PROTOCOL_VERSION) {
    throw new UnsupportedVersionError(
      `The message body uses version ${version}; this client speaks ${PROTOCOL_VERSION}. Update MetaChat.`,
    );
  }
  let body: Body;
  try {
    body = parseWire(bodySchema, value, 'body');
  } catch (cause) {
    const detail = cause instanceof MetaChatError ? ` (${cause.message})` : '';
    throw new MalformedBodyError(`The message decrypted, but its body is invalid${detail}.`, {
      cause,
    });
  }
  if (!equalBytes(canonicalBytes(body), bytes)) {
    throw new MalformedBodyError(
      'The message decrypted, but its body is not in canonical form (duplicate keys, white space or reordering).',
    );
  }
  return body;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
