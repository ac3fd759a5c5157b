import type { Packet, RegisterRequest } from '../../src/core/index.js';
import { prng } from './prng.js';

/** One fuzz case: an event name and its payload. */
export interface FuzzCase {
  readonly event: string;
  readonly payload: unknown;
  /** True when the payload can never be accepted (state-changing events only ever get these). */
  readonly mustRefuse: boolean;
}

const EVENTS = [
  'register',
  'prelogin',
  'login',
  'challenge',
  'authenticate',
  'key',
  'send',
  'sync',
  'history',
  'receipt',
];
/** Names an object inherits: an event called one of these must find no handler. */
const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
];
const READ_ONLY = new Set(['prelogin', 'challenge', 'key', 'sync', 'history']);
const ALPHABET = [
  'a',
  'Z',
  '0',
  '=',
  '/',
  '+',
  '"',
  '\\',
  '\u0000',
  '\u001b',
  'é',
  '👋',
  '\ud800',
  ' ',
  '{',
];

/** Builds fuzz cases from a seed, around a valid signed packet and a valid registration. */
export function fuzzCases(seed: number, validPacket: Packet, validRegister: RegisterRequest) {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

  const text = (max: number) => Array.from({ length: int(max) }, () => pick(ALPHABET)).join('');
  const scalar = (): unknown =>
    pick([
      () => null,
      () => true,
      () => int(2 ** 31) - 2 ** 30,
      () => random() * 1e308,
      () => -0,
      () => 2 ** 53 + 2,
      () => text(40),
      () => 'A'.repeat(int(40_000)),
      () => 'f'.repeat(64),
    ])();
  const value = (depth: number): unknown => {
    if (depth <= 0 || random() < 0.4) return scalar();
    if (random() < 0.5) return Array.from({ length: int(4) }, () => value(depth - 1));
    const entries = Array.from({ length: int(4) }, () => [
      pick(['v', 'id', 'from', 'to', 'x', 'ct', text(8)]),
      value(depth - 1),
    ]);
    return Object.fromEntries(entries);
  };
  const nested = (depth: number): unknown => {
    let out: unknown = 'deep';
    for (let i = 0; i < depth; i++) out = random() < 0.5 ? [out] : { a: out };
    return out;
  };
  const hostileKeys = (base: object): unknown =>
    JSON.parse(
      `{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},${JSON.stringify(base).slice(1)}`,
    );
  const mutate = (base: Record<string, unknown>): unknown => {
    const keys = Object.keys(base);
    const key = pick(keys);
    const copy: Record<string, unknown> = { ...base };
    const original = copy[key];
    switch (int(6)) {
      case 0:
        return Object.fromEntries(Object.entries(copy).filter(([name]) => name !== key));
      case 1:
        copy[`extra${String(int(9))}`] = scalar();
        return copy;
      case 2:
        copy[key] = scalar();
        return copy[key] === original ? { ...copy, [key]: [original] } : copy;
      case 3:
        if (typeof original === 'string' && original.length > 0) {
          const at = int(original.length);
          const swapped = original[at] === 'A' ? 'B' : 'A';
          copy[key] = original.slice(0, at) + swapped + original.slice(at + 1);
        } else copy[key] = typeof original === 'number' ? original + 1 : 'changed';
        return copy;
      case 4:
        return hostileKeys(copy);
      default:
        copy[key] = nested(50 + int(200));
        return copy;
    }
  };

  const one = (): FuzzCase => {
    const roll = random();
    if (roll < 0.35) return { event: 'send', payload: mutate(validPacket), mustRefuse: true };
    if (roll < 0.45)
      return {
        event: 'register',
        payload: mutate({ ...validRegister }),
        mustRefuse: true,
      };
    if (roll < 0.5) {
      const name = pick([text(12) || 'x', ...PROTOTYPE_NAMES, String(int(1000))]);
      return { event: name, payload: value(3), mustRefuse: true };
    }
    if (roll < 0.55) {
      const event = pick(EVENTS);
      return {
        event,
        payload: nested(300),
        mustRefuse: event === 'challenge' || !READ_ONLY.has(event),
      };
    }
    const event = pick(EVENTS);
    const payload =
      event === 'receipt'
        ? pick([{ upTo: -1 }, { upTo: 'all' }, { upTo: 1.5 }, value(2)])
        : value(3);
    const harmless = READ_ONLY.has(event);
    return { event, payload, mustRefuse: !harmless };
  };
  return { next: one };
}
