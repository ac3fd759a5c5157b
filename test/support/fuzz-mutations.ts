import type { Packet } from '../../src/core/index.js';

/** A random source the mutations draw from. */
export interface Draw {
  /** A whole number from 0 to n − 1. */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

const HEX_FIELDS = ['id', 'from', 'to'] as const;
const BASE64_FIELDS = ['iv', 'ct', 'keyTo', 'keyFrom', 'sig'] as const;

/** A signed packet with one byte of one field changed, and the refusals that change must get. */
export interface FlippedPacket {
  readonly packet: Record<string, unknown>;
  readonly field: string;
  readonly codes: readonly string[];
}

/**
 * Changes exactly one byte of one field of a valid signed packet, in its decoded form, and encodes
 * it back canonically: the packet stays well formed, so only the signature check (or the sender
 * and recipient checks) can refuse it.
 */
export function flipOneByte(valid: Packet, draw: Draw): FlippedPacket {
  const mask = 1 + draw.int(255);
  const field = draw.pick([...HEX_FIELDS, ...BASE64_FIELDS, 'time', 'v'] as const);
  const packet: Record<string, unknown> = { ...valid };
  if (field === 'time') {
    const shift = BigInt(8 * draw.int(8));
    const time = BigInt(valid.time) ^ (BigInt(mask) << shift);
    packet['time'] = Number(time);
    const safe = time <= BigInt(Number.MAX_SAFE_INTEGER);
    return { packet, field, codes: safe ? ['SIGNATURE_INVALID'] : ['MALFORMED_INPUT'] };
  }
  if (field === 'v') {
    packet['v'] = valid.v ^ mask;
    return { packet, field, codes: ['UNSUPPORTED_VERSION', 'MALFORMED_INPUT'] };
  }
  const hex = (HEX_FIELDS as readonly string[]).includes(field);
  const bytes = Buffer.from(valid[field], hex ? 'hex' : 'base64');
  const at = draw.int(bytes.length);
  bytes[at] = (bytes[at] ?? 0) ^ mask;
  packet[field] = bytes.toString(hex ? 'hex' : 'base64');
  const codes =
    field === 'from'
      ? ['FORBIDDEN_SENDER']
      : field === 'to'
        ? ['UNKNOWN_IDENTIFIER']
        : ['SIGNATURE_INVALID'];
  return { packet, field, codes };
}

/**
 * Changes one byte of the packet's JSON text to another printable character: the result is a
 * different object when it still parses, or the raw text (a string payload) when it does not.
 */
export function flipOneJsonByte(valid: Packet, draw: Draw): unknown {
  const text = JSON.stringify(valid);
  const at = draw.int(text.length);
  let replacement = text[at] ?? ' ';
  while (replacement === text[at]) replacement = String.fromCharCode(32 + draw.int(95));
  const changed = text.slice(0, at) + replacement + text.slice(at + 1);
  try {
    return JSON.parse(changed) as unknown;
  } catch {
    return changed;
  }
}

/** A value of another JSON type than `original` (never `undefined`, which JSON would drop). */
export function wrongType(original: unknown, draw: Draw): unknown {
  const candidates: unknown[] = [null, true, 'text', 7, [original], { value: original }];
  return draw.pick(
    candidates.filter((value) => typeof value !== typeof original || value === null),
  );
}

/** Adds own `__proto__`, `constructor` and `prototype` keys, the way JSON.parse would create them. */
export function withPrototypeKeys(base: object, draw: Draw): unknown {
  const hostile = draw.pick([
    '"__proto__":{"polluted":true}',
    '"constructor":{"prototype":{"polluted":true}}',
    '"prototype":{"polluted":true}',
    '"__proto__":null',
    '"toString":"x","hasOwnProperty":1,"valueOf":[]',
    `"__proto__":${JSON.stringify(base)}`,
  ]);
  const body = JSON.stringify(base).slice(1);
  return JSON.parse(body === '}' ? `{${hostile}}` : `{${hostile},${body}`) as unknown;
}

/** A value nested `depth` levels deep in arrays and objects. */
export function nested(depth: number, draw: Draw): unknown {
  let out: unknown = 'deep';
  for (let i = 0; i < depth; i++) out = draw.int(2) === 0 ? [out] : { a: out };
  return out;
}
