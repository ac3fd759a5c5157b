import type { Packet, RegisterRequest } from '../../src/core/index.js';
import {
  flipOneByte,
  flipOneJsonByte,
  nested,
  withPrototypeKeys,
  wrongType,
  type Draw,
} from './fuzz-mutations.js';
import { prng } from './prng.js';

/** What a fuzz case exercises; the test checks that every category was drawn. */
export const FUZZ_CATEGORIES = [
  'wrong-type',
  'bad-number',
  'huge-string',
  'deep-nesting',
  'prototype-keys',
  'unknown-event',
  'extra-arguments',
  'binary',
  'mutated-packet',
  'one-byte-packet',
  'one-byte-json',
  'mutated-register',
  'random-value',
  'no-ack',
] as const;
/** One of FUZZ_CATEGORIES. */
export type FuzzCategory = (typeof FUZZ_CATEGORIES)[number];

/** One fuzz case: an event, the arguments before the acknowledgement callback, and what must happen. */
export interface FuzzCase {
  readonly category: FuzzCategory;
  /** Socket.IO allows numeric event names too. */
  readonly event: string | number;
  readonly args: readonly unknown[];
  /** False: emitted without an acknowledgement callback, which the relay must ignore. */
  readonly ack: boolean;
  /** True when the case can never be accepted (state-changing events only ever get these). */
  readonly mustRefuse: boolean;
  /** When set, the refusal must carry one of these codes. */
  readonly codes?: readonly string[];
  /** Must go over the authenticated connection (its expected codes assume one). */
  readonly authenticated: boolean;
}

/** Valid material the cases are mutated from; nothing here is ever sent unchanged. */
export interface FuzzTemplates {
  /** A packet from the authenticated user to `peer`, signed, never sent. */
  readonly packet: Packet;
  /** A well-formed registration whose identifier is already taken. */
  readonly register: RegisterRequest;
  readonly identifier: string;
  readonly peer: string;
}

const READ_ONLY = new Set(['prelogin', 'challenge', 'key', 'sync', 'history']);
const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'isPrototypeOf',
];
const ALPHABET = ['a', 'Z', '0', '=', '/', '+', '"', '\\', '\u0000', '\u001b', 'é', '👋', '\ud800'];
/** Refusals of a payload with the wrong shape: checked before parsing, or the parse itself. */
const SHAPE = ['MALFORMED_INPUT', 'NOT_AUTHENTICATED', 'ALREADY_AUTHENTICATED'];
/** Relative weight of each category. */
const WEIGHTS: Record<FuzzCategory, number> = {
  'wrong-type': 10,
  'bad-number': 6,
  'huge-string': 6,
  'deep-nesting': 5,
  'prototype-keys': 8,
  'unknown-event': 7,
  'extra-arguments': 4,
  binary: 4,
  'mutated-packet': 12,
  'one-byte-packet': 14,
  'one-byte-json': 8,
  'mutated-register': 6,
  'random-value': 6,
  'no-ack': 4,
};

/** Builds fuzz cases from a seed: the same seed gives the same cases in the same order. */
export function fuzzCases(seed: number, templates: FuzzTemplates) {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const draw: Draw = { int, pick };
  const text = (max: number) => Array.from({ length: int(max) }, () => pick(ALPHABET)).join('');
  const zeros = (bytes: number) => Buffer.alloc(bytes).toString('base64');

  const payloads: Record<string, Record<string, unknown> | undefined> = {
    register: { ...templates.register },
    prelogin: { identifier: templates.identifier },
    login: { identifier: templates.identifier, loginProof: zeros(32) },
    challenge: undefined,
    authenticate: { identifier: templates.identifier, proof: zeros(256) },
    key: { identifier: templates.peer },
    send: { ...templates.packet },
    sync: { after: 0, limit: 10 },
    history: { peer: templates.peer, before: 5, limit: 10 },
    receipt: { upTo: 1 },
  };
  const events = Object.keys(payloads);
  const numericFields: Record<string, string[]> = {
    send: ['v', 'time'],
    sync: ['after', 'limit'],
    history: ['before', 'limit'],
    receipt: ['upTo'],
  };

  const scalar = (): unknown =>
    pick([
      () => null,
      () => true,
      () => int(2 ** 31) - 2 ** 30,
      () => random() * 1e308,
      () => 2 ** 53 + 2,
      () => text(40),
      () => 'A'.repeat(int(40_000)),
      () => 'f'.repeat(64),
    ])();
  const value = (depth: number): unknown => {
    if (depth <= 0 || random() < 0.4) return scalar();
    if (random() < 0.5) return Array.from({ length: int(4) }, () => value(depth - 1));
    const keys = ['v', 'id', 'from', 'to', 'x', 'ct', 'after', 'identifier', text(8)];
    return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(keys), value(depth - 1)]));
  };
  /** A template payload with one field replaced (or the whole payload, when it has none). */
  const replaceField = (event: string, make: (original: unknown) => unknown): unknown => {
    const base = payloads[event];
    if (base === undefined || random() < 0.2) return make(base);
    const key = pick(Object.keys(base));
    return { ...base, [key]: make(base[key]) };
  };
  /** The classic mutations of a valid object: drop, add, retype, change a character, nest. */
  const mutate = (base: Record<string, unknown>): unknown => {
    const key = pick(Object.keys(base));
    const copy: Record<string, unknown> = { ...base };
    const original = copy[key];
    switch (int(5)) {
      case 0:
        return Object.fromEntries(Object.entries(copy).filter(([name]) => name !== key));
      case 1:
        copy[`extra${String(int(9))}`] = scalar();
        return copy;
      case 2:
        copy[key] = scalar();
        return copy[key] === original ? { ...copy, [key]: [original] } : copy;
      case 3:
        // Uppercase hex and a changed base64 digit are both refused: the copy can never be valid.
        if (typeof original === 'string' && original.length > 0) {
          const at = int(original.length);
          copy[key] =
            original.slice(0, at) + (original[at] === 'A' ? 'B' : 'A') + original.slice(at + 1);
        } else copy[key] = typeof original === 'number' ? original + 1 : 'changed';
        return copy;
      default:
        copy[key] = nested(50 + int(200), draw);
        return copy;
    }
  };
  const refused = (
    category: FuzzCategory,
    event: string | number,
    args: unknown[],
    extra: Partial<FuzzCase> = {},
  ): FuzzCase => ({
    category,
    event,
    args,
    ack: true,
    mustRefuse: true,
    authenticated: false,
    ...extra,
  });

  const build: Record<FuzzCategory, () => FuzzCase> = {
    'wrong-type': () => {
      const event = pick(events);
      return refused('wrong-type', event, [replaceField(event, (o) => wrongType(o, draw))], {
        codes: SHAPE,
      });
    },
    'bad-number': () => {
      const event = pick(Object.keys(numericFields));
      const field = pick(numericFields[event] ?? []);
      const bad = pick([
        -1,
        1.5,
        0.1,
        2 ** 53,
        1e308,
        -1e308,
        ...(field === 'limit' ? [0, 501] : []),
      ]);
      return refused('bad-number', event, [{ ...payloads[event], [field]: bad }], {
        codes: [...SHAPE, 'UNSUPPORTED_VERSION'],
      });
    },
    'huge-string': () => {
      const event = pick(events);
      const huge = pick(['x', 'é', '👋', 'A=', '0'])
        .repeat(1000 + int(28_000))
        .slice(0, 55_000);
      const args =
        random() < 0.2
          ? [{ ...payloads[event], [huge.slice(0, 1000 + int(20_000))]: 1 }]
          : [replaceField(event, () => huge)];
      return refused('huge-string', event, args, {
        // A huge run of base64 digits that still fits a public key's text is a wrong key; one that
        // fits a packet's ciphertext (a run of 4n 'x' or '0') leaves the packet well formed, so only
        // its signature can refuse it.
        codes: [
          ...SHAPE,
          'OVERSIZE',
          'MALFORMED_ENCODING',
          'INVALID_KEY',
          ...(event === 'send' ? ['SIGNATURE_INVALID'] : []),
        ],
      });
    },
    'deep-nesting': () => {
      const event = pick(events);
      return refused(
        'deep-nesting',
        event,
        [replaceField(event, () => nested(100 + int(1900), draw))],
        { codes: SHAPE },
      );
    },
    'prototype-keys': () => {
      const event = pick(events.filter((name) => name !== 'challenge'));
      const base = payloads[event] ?? {};
      const nestedIn = pick(['kdf', 'wrappedPrivateKey']);
      const args =
        event === 'register' && random() < 0.5
          ? [{ ...base, [nestedIn]: withPrototypeKeys(base[nestedIn] as object, draw) }]
          : [withPrototypeKeys(base, draw)];
      return refused('prototype-keys', event, args, { codes: SHAPE });
    },
    'unknown-event': () => {
      const real = pick(events);
      const event = pick<string | number>([
        text(12) || 'x',
        pick(PROTOTYPE_NAMES),
        real.toUpperCase(),
        `${real} `,
        real.slice(1),
        'x'.repeat(1000 + int(9000)),
        int(1000),
      ]);
      const payload = random() < 0.5 ? payloads[real] : value(3);
      return refused('unknown-event', event, [payload], { codes: ['UNKNOWN_EVENT'] });
    },
    'extra-arguments': () => {
      const event = pick(events);
      const extra = Array.from({ length: 1 + int(3) }, () => value(1));
      return refused('extra-arguments', event, [payloads[event] ?? null, ...extra], {
        codes: SHAPE,
      });
    },
    binary: () => {
      const event = pick(events);
      const bytes = Buffer.from(Array.from({ length: int(600) }, () => int(256)));
      return refused('binary', event, [replaceField(event, () => bytes)], { codes: SHAPE });
    },
    'mutated-packet': () => refused('mutated-packet', 'send', [mutate({ ...templates.packet })]),
    'one-byte-packet': () => {
      const { packet, codes } = flipOneByte(templates.packet, draw);
      return refused('one-byte-packet', 'send', [packet], { codes, authenticated: true });
    },
    'one-byte-json': () =>
      refused('one-byte-json', 'send', [flipOneJsonByte(templates.packet, draw)], {
        authenticated: true,
      }),
    'mutated-register': () =>
      refused('mutated-register', 'register', [mutate({ ...templates.register })]),
    'random-value': () => {
      const event = pick(events);
      return refused('random-value', event, [value(3)], { mustRefuse: !READ_ONLY.has(event) });
    },
    'no-ack': () => {
      const { codes: _codes, ...inner } =
        build[pick(FUZZ_CATEGORIES.filter((name) => name !== 'no-ack'))]();
      return { ...inner, category: 'no-ack', ack: false };
    },
  };
  const total = FUZZ_CATEGORIES.reduce((sum, name) => sum + WEIGHTS[name], 0);
  return {
    next(): FuzzCase {
      let roll = random() * total;
      for (const name of FUZZ_CATEGORIES) {
        roll -= WEIGHTS[name];
        if (roll < 0) return build[name]();
      }
      return build['random-value']();
    },
  };
}
