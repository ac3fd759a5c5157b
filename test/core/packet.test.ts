import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  base64ToBytes,
  bytesToBase64,
  assertKeyPairMatches,
  DecryptionFailedError,
  KeyMismatchError,
  keyPairFromPrivate,
  SenderMismatchError,
  UsernameMismatchError,
  MalformedBodyError,
  MalformedEncodingError,
  MalformedInputError,
  MAX_BODY_BYTES,
  MAX_PACKET_BYTES,
  MAX_TEXT_BYTES,
  NotAddressedToMeError,
  openPacket,
  OversizeError,
  packetSchema,
  packetSigningBytes,
  parsePacket,
  sealPacket,
  signingBytesOfParsed,
  SignatureInvalidError,
  UnsupportedVersionError,
  utf8ToBytes,
  verifyParsedPacketSignature,
  type Body,
  type Packet,
} from '../../src/core/index.js';
import { alice, bob, newParty, type Party } from '../support/parties.js';
import { sealRaw } from '../support/seal-raw.js';

const hello: Body = { v: 1, type: 'text', text: 'Hello, Bob! ça va? 👋\nSecond line.' };

function seal(body: Body = hello, from: Party = alice, to: Party = bob): Packet {
  return sealPacket({
    sender: { identifier: from.identifier, keyPair: from.keyPair },
    recipient: { identifier: to.identifier, publicKey: to.keyPair.publicKey },
    body,
  });
}

/**
 * Opens as a client would: it takes the key it holds for the packet's claimed sender. Tampering
 * tests give it the genuine key under whatever identifier the packet now claims, the attacker's
 * best case; the sender check itself has its own test.
 */
function open(packet: unknown, reader: Party = bob, sender: Party = alice) {
  const claimed = (packet as { from?: unknown } | null)?.from;
  return openPacket({
    packet,
    reader: { identifier: reader.identifier, privateKey: reader.keyPair.privateKey },
    sender: {
      identifier: typeof claimed === 'string' ? claimed : sender.identifier,
      publicKey: sender.keyPair.publicKey,
    },
  });
}

function flipByte(base64: string, index = 0): string {
  const bytes = base64ToBytes(base64);
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytesToBase64(bytes);
}

/** The same bytes in non-canonical base64: sets an unused low bit of the last data character. */
function nonCanonical(base64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const at = base64.replace(/=+$/, '').length - 1;
  const next = alphabet[alphabet.indexOf(base64.charAt(at)) | 1] ?? 'B';
  return base64.slice(0, at) + next + base64.slice(at + 1);
}

function flipHex(hex: string): string {
  return (hex[0] === '0' ? '1' : '0') + hex.slice(1);
}

let carol: Party;
beforeAll(async () => {
  carol = await newParty('carol');
});

describe('seal and open', () => {
  it('round-trips for the recipient and for the sender’s other devices', () => {
    const packet = seal();
    const received = open(packet);
    expect(received.body).toEqual(hello);
    expect(received.direction).toBe('incoming');
    const sent = open(packet, alice, alice);
    expect(sent.body).toEqual(hello);
    expect(sent.direction).toBe('outgoing');
  });

  it('survives a JSON round trip, as on the wire and on disk', () => {
    const packet = JSON.parse(JSON.stringify(seal())) as unknown;
    expect(open(packet).body).toEqual(hello);
  });

  it('carries the username exchange inside the encryption', () => {
    const packet = seal({ v: 1, type: 'hello', username: 'alice' });
    expect(JSON.stringify(packet)).not.toContain('alice');
    expect(open(packet).body).toEqual({ v: 1, type: 'hello', username: 'alice' });
  });

  it('uses a fresh id, IV and key per message', () => {
    const one = seal();
    const two = seal();
    expect(two.id).not.toBe(one.id);
    expect(two.iv).not.toBe(one.iv);
    expect(two.ct).not.toBe(one.ct);
  });

  it('fits the largest text in the packet limit', () => {
    const text = '"'.repeat(MAX_TEXT_BYTES); // the worst case for JSON escaping
    const packet = seal({ v: 1, type: 'text', text });
    expect(utf8ToBytes(JSON.stringify(packet)).length).toBeLessThanOrEqual(MAX_PACKET_BYTES);
    expect(open(packet).body).toEqual({ v: 1, type: 'text', text });
  });

  it.each([
    ['a right-to-left override', 'abc\u202edcb'],
    ['an isolate', 'a\u2066b'],
    ['a line separator', 'a\u2028b'],
    ['a C1 control', 'a\u009bb'],
  ])('refuses text with %s', (_why, text) => {
    expect(() => seal({ v: 1, type: 'text', text })).toThrow(MalformedInputError);
  });

  it('keeps emoji sequences with zero-width joiners, tabs and newlines', () => {
    const text = 'family: 👨\u200d👩\u200d👧\tnext\nline';
    expect(open(seal({ v: 1, type: 'text', text })).body).toEqual({ v: 1, type: 'text', text });
  });

  it('refuses to seal an oversize or control-laden text', () => {
    expect(() => seal({ v: 1, type: 'text', text: 'x'.repeat(MAX_TEXT_BYTES + 1) })).toThrow(
      OversizeError,
    );
    expect(() => seal({ v: 1, type: 'text', text: 'é'.repeat(MAX_TEXT_BYTES / 2 + 1) })).toThrow(
      OversizeError,
    );
    expect(() => seal({ v: 1, type: 'text', text: 'red \u001b[31m alert' })).toThrow(
      MalformedInputError,
    );
  });
});

describe('who sent it, and to whom', () => {
  it('refuses a packet whose sender is not the one the reader checks against', () => {
    // Mallory signs "from: alice" with her own key; a reader that holds Mallory's key as the
    // conversation peer must not be told the packet came from alice.
    const forged = sealRaw({ ...carol, identifier: alice.identifier }, bob, {
      plaintext: utf8ToBytes('{"v":1,"type":"text","text":"I am alice"}'),
    });
    expect(() =>
      openPacket({
        packet: forged,
        reader: { identifier: bob.identifier, privateKey: bob.keyPair.privateKey },
        sender: { identifier: carol.identifier, publicKey: carol.keyPair.publicKey },
      }),
    ).toThrow(SenderMismatchError);
  });

  it('shows a hello name only when it hashes to the sender, else UsernameMismatchError', () => {
    expect(open(seal({ v: 1, type: 'hello', username: 'alice' })).body).toMatchObject({
      username: 'alice',
    });
    expect(() => open(seal({ v: 1, type: 'hello', username: 'bob' }))).toThrow(
      UsernameMismatchError,
    );
  });

  it('opens a note to self as outgoing', () => {
    const note = seal(hello, alice, alice);
    expect(open(note, alice, alice)).toMatchObject({ direction: 'outgoing', body: hello });
  });

  it('seals only with a key pair whose halves match (the type cannot be built by hand)', () => {
    const pair = keyPairFromPrivate(alice.keyPair.privateKey);
    expect(pair.publicKey.fingerprint).toBe(alice.keyPair.publicKey.fingerprint);
    expect(() => assertKeyPairMatches(alice.keyPair.privateKey, carol.keyPair.publicKey)).toThrow(
      KeyMismatchError,
    );
  });
});

describe('tampering with one field at a time', () => {
  const cases: [string, (p: Packet) => unknown][] = [
    ['id', (p) => ({ ...p, id: flipHex(p.id) })],
    ['from', (p) => ({ ...p, from: flipHex(p.from) })],
    ['to', (p) => ({ ...p, to: flipHex(p.to) })],
    ['time', (p) => ({ ...p, time: p.time + 1 })],
    ['iv', (p) => ({ ...p, iv: flipByte(p.iv) })],
    ['ct (first byte)', (p) => ({ ...p, ct: flipByte(p.ct) })],
    ['ct (tag)', (p) => ({ ...p, ct: flipByte(p.ct, base64ToBytes(p.ct).length - 1) })],
    ['ct (truncated)', (p) => ({ ...p, ct: bytesToBase64(base64ToBytes(p.ct).subarray(1)) })],
    ['keyTo', (p) => ({ ...p, keyTo: flipByte(p.keyTo, 100) })],
    ['keyFrom', (p) => ({ ...p, keyFrom: flipByte(p.keyFrom, 100) })],
    ['keyTo and keyFrom swapped', (p) => ({ ...p, keyTo: p.keyFrom, keyFrom: p.keyTo })],
    ['sig', (p) => ({ ...p, sig: flipByte(p.sig, 200) })],
  ];

  it.each(cases)('rejects a changed %s as SignatureInvalidError', (_field, mutate) => {
    const packet = seal();
    expect(() => open(mutate(packet))).toThrow(SignatureInvalidError);
    expect(() => open(mutate(packet), alice, alice)).toThrow(SignatureInvalidError);
  });

  it('rejects a changed version as UnsupportedVersionError', () => {
    expect(() => open({ ...seal(), v: 2 })).toThrow(UnsupportedVersionError);
  });

  it('rejects a packet whose claimed sender is swapped for another user', () => {
    const packet = { ...seal(), from: carol.identifier };
    // The reader looks up the key of the claimed sender, carol: the signature is alice's.
    expect(() => open(packet, bob, carol)).toThrow(SignatureInvalidError);
  });

  it('rejects a signature made with another key', () => {
    expect(() => open(seal(hello, carol, bob), bob, alice)).toThrow(SignatureInvalidError);
  });
});

describe('authentic packets that are still unreadable', () => {
  it('refuses a packet for someone else with NotAddressedToMeError', () => {
    expect(() => open(seal(), carol, alice)).toThrow(NotAddressedToMeError);
  });

  it('refuses a message key wrapped for another reader with DecryptionFailedError', () => {
    const packet = sealRaw(alice, bob, {
      plaintext: utf8ToBytes('{"v":1,"type":"text","text":"hi"}'),
      keyToRecipient: carol.keyPair.publicKey,
    });
    expect(() => open(packet)).toThrow(DecryptionFailedError);
  });

  it('refuses a signed but corrupt ciphertext with DecryptionFailedError', () => {
    const packet = sealRaw(alice, bob, { plaintext: utf8ToBytes('{}'), corruptCiphertext: true });
    expect(() => open(packet)).toThrow(DecryptionFailedError);
  });

  it('refuses a message key of the wrong length with DecryptionFailedError', () => {
    const packet = sealRaw(alice, bob, {
      plaintext: utf8ToBytes('{}'),
      messageKey: new Uint8Array(16),
    });
    expect(() => open(packet)).toThrow(DecryptionFailedError);
  });

  it.each([
    ['not JSON', 'hello'],
    ['not UTF-8', '\u00ff'],
    ['an unknown type', '{"v":1,"type":"poll","text":"hi"}'],
    ['an extra field', '{"v":1,"type":"text","text":"hi","html":"<b>"}'],
    ['control characters', '{"v":1,"type":"text","text":"\\u001b[2J"}'],
    ['an unnormalized username', '{"v":1,"type":"hello","username":"Alice"}'],
    ['a username with white space', '{"v":1,"type":"hello","username":" alice"}'],
    // OVERSIZE at the sender, MALFORMED_BODY at the receiver (protocol section 8).
    ['a text over 16,384 bytes', `{"v":1,"type":"text","text":"${'x'.repeat(16_385)}"}`],
    ['an empty text', '{"v":1,"type":"text","text":""}'],
    ['an array', '[1,2,3]'],
    ['with duplicate keys', '{"v":1,"type":"text","text":"shown","text":"hidden"}'],
    ['with white space', '{"v":1, "type":"text", "text":"hi"}'],
    ['with keys reordered', '{"type":"text","v":1,"text":"hi"}'],
    ['with an escaped letter', '{"v":1,"type":"text","text":"\\u0068i"}'],
  ])('refuses a signed body that is %s with MalformedBodyError', (_why, json) => {
    const plaintext = json === '\u00ff' ? Uint8Array.of(0xff, 0xfe) : utf8ToBytes(json);
    const packet = sealRaw(alice, bob, { plaintext });
    expect(() => open(packet)).toThrow(MalformedBodyError);
  });

  it('refuses a signed body of a future version with UnsupportedVersionError', () => {
    const packet = sealRaw(alice, bob, {
      plaintext: utf8ToBytes('{"v":2,"type":"text","text":"hi"}'),
    });
    expect(() => open(packet)).toThrow(UnsupportedVersionError);
  });
});

describe('parsePacket on malformed input', () => {
  const valid = seal();
  const without = (field: keyof Packet) =>
    Object.fromEntries(Object.entries(valid).filter(([key]) => key !== field));
  let deep: unknown = 'x';
  for (let i = 0; i < 10_000; i++) deep = { a: deep };

  const cases: [string, unknown, new (...args: never[]) => Error][] = [
    ['null', null, MalformedInputError],
    ['undefined', undefined, MalformedInputError],
    ['a number', 42, MalformedInputError],
    ['a string', JSON.stringify(valid), MalformedInputError],
    ['an array', [valid], MalformedInputError],
    ['an empty object', {}, MalformedInputError],
    ['a missing sig', without('sig'), MalformedInputError],
    ['a missing keyFrom', without('keyFrom'), MalformedInputError],
    ['a missing time', without('time'), MalformedInputError],
    ['an extra field', { ...valid, extra: 1 }, MalformedInputError],
    [
      'an own __proto__ key',
      JSON.parse(`{"__proto__":{"admin":true},${JSON.stringify(valid).slice(1)}`),
      MalformedInputError,
    ],
    ['a constructor key', { ...valid, constructor: { prototype: {} } }, MalformedInputError],
    ['a string version', { ...valid, v: '1' }, MalformedInputError],
    ['a NaN time', { ...valid, time: Number.NaN }, MalformedInputError],
    ['an Infinity time', { ...valid, time: Infinity }, MalformedInputError],
    ['a negative time', { ...valid, time: -1 }, MalformedInputError],
    ['a fractional time', { ...valid, time: 1.5 }, MalformedInputError],
    ['an unsafe time', { ...valid, time: 2 ** 53 }, MalformedInputError],
    ['a string time', { ...valid, time: String(valid.time) }, MalformedInputError],
    ['a deeply nested field', { ...valid, ct: deep }, MalformedInputError],
    ['an uppercase id', { ...valid, id: valid.id.toUpperCase() }, MalformedEncodingError],
    ['a short id', { ...valid, id: valid.id.slice(2) }, MalformedInputError],
    ['a non-hex from', { ...valid, from: 'z'.repeat(64) }, MalformedEncodingError],
    ['bad base64 in ct', { ...valid, ct: `*${valid.ct.slice(1)}` }, MalformedEncodingError],
    [
      'unpadded base64 in sig',
      { ...valid, sig: valid.sig.replace(/=+$/, '') },
      MalformedEncodingError,
    ],
    [
      'non-canonical base64 in sig',
      { ...valid, sig: nonCanonical(valid.sig) },
      MalformedEncodingError,
    ],
    ['a truncated iv', { ...valid, iv: bytesToBase64(new Uint8Array(11)) }, MalformedInputError],
    ['a truncated sig', { ...valid, sig: bytesToBase64(new Uint8Array(255)) }, MalformedInputError],
    ['a long keyTo', { ...valid, keyTo: bytesToBase64(new Uint8Array(300)) }, OversizeError],
    ['an oversize ct', { ...valid, ct: 'A'.repeat(10_000_000) }, OversizeError],
    ['an oversize id', { ...valid, id: 'a'.repeat(1_000_000) }, OversizeError],
    ['a byte array for an id', { ...valid, id: new Uint8Array(300) }, MalformedInputError],
    ['a byte array for ct', { ...valid, ct: new Uint8Array(100_000) }, MalformedInputError],
    ['version 2', { ...valid, v: 2 }, UnsupportedVersionError],
    ['version 0', { ...valid, v: 0 }, UnsupportedVersionError],
  ];

  it.each(cases)('refuses %s with the right typed error', (_why, input, type) => {
    expect(() => parsePacket(input)).toThrow(type);
    expect(() => open(input)).toThrow(type);
  });

  it('never copies the input’s own text into the error message', () => {
    const hostile = { ...valid, ['\u001b]0;pwned\u0007\u001b[2J']: 1 };
    let message = '';
    try {
      parsePacket(hostile);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/unexpected field/);
    expect(message).not.toMatch(/\p{Cc}/u);
    expect(message).not.toContain('pwned');
  });

  it('accepts the valid packet unchanged', () => {
    expect(parsePacket(valid)).toEqual(valid);
  });

  it('accepts exactly what the schema accepts, in its field order (the fast path never widens it)', () => {
    const ctOf = (bytes: number) => bytesToBase64(new Uint8Array(bytes));
    const inputs: unknown[] = [
      ...cases.map(([, input]) => input),
      ...Object.keys(valid).map((field) => ({ ...valid, [field]: undefined })),
      ...Object.keys(valid).map((field) => ({ ...valid, [field]: null })),
      { ...valid, time: 0 },
      { ...valid, time: -0 },
      { ...valid, time: Number.MAX_SAFE_INTEGER },
      { ...valid, v: true },
      { ...valid, id: `${valid.id.slice(1)}g` },
      { ...valid, to: `${valid.to.slice(1)}A` },
      { ...valid, from: ` ${valid.from.slice(1)}` },
      { ...valid, ct: ctOf(16) },
      { ...valid, ct: ctOf(17) },
      { ...valid, ct: ctOf(MAX_BODY_BYTES + 16) },
      { ...valid, ct: ctOf(MAX_BODY_BYTES + 17) },
      { ...valid, iv: ctOf(13) },
      { ...valid, keyFrom: ctOf(257) },
      { ...valid, sig: `${valid.sig.slice(0, -4)}====` },
      { ...valid, sig: `${valid.sig}\n` },
      Object.assign(Object.create(null) as object, valid),
      Object.assign(Object.create({ inherited: true }) as object, valid),
      Object.fromEntries(Object.entries(valid).reverse()),
    ];
    for (const input of inputs) {
      const schema = packetSchema.safeParse(input);
      let parsed: Packet | undefined;
      try {
        parsed = parsePacket(input);
      } catch {
        parsed = undefined;
      }
      expect({ input, accepted: parsed !== undefined }).toEqual({
        input,
        accepted: schema.success,
      });
      if (schema.success && parsed) {
        expect(JSON.stringify(parsed)).toBe(JSON.stringify(schema.data));
        expect(parsed).not.toBe(input);
      }
    }
  });
});

describe('the relay’s signing bytes, built in one buffer', () => {
  it('equal packetSigningBytes for every ciphertext length and padding, and for large times', () => {
    for (let length = 1; length <= 60; length++) {
      const packet = parsePacket(
        JSON.parse(JSON.stringify(seal({ v: 1, type: 'text', text: 'x'.repeat(length) }))),
      );
      for (const time of [packet.time, 0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
        const timed = { ...packet, time };
        expect(Buffer.from(signingBytesOfParsed(timed)).toString('hex')).toBe(
          Buffer.from(packetSigningBytes(timed)).toString('hex'),
        );
      }
    }
  });

  it('verify the sealed packet and refuse one with any field changed', () => {
    const packet = parsePacket(seal());
    expect(() => verifyParsedPacketSignature(packet, alice.keyPair.publicKey)).not.toThrow();
    expect(() => verifyParsedPacketSignature(packet, bob.keyPair.publicKey)).toThrow(
      SignatureInvalidError,
    );
    for (const field of ['iv', 'ct', 'keyTo', 'keyFrom', 'sig'] as const) {
      const text = packet[field];
      const changed = { ...packet, [field]: `${text[0] === 'A' ? 'B' : 'A'}${text.slice(1)}` };
      expect(() => verifyParsedPacketSignature(changed, alice.keyPair.publicKey)).toThrow(
        SignatureInvalidError,
      );
    }
    for (const changed of [
      { ...packet, time: packet.time + 1 },
      { ...packet, to: alice.identifier },
      { ...packet, id: `${packet.id[0] === 'a' ? 'b' : 'a'}${packet.id.slice(1)}` },
    ]) {
      expect(() => verifyParsedPacketSignature(changed, alice.keyPair.publicKey)).toThrow(
        SignatureInvalidError,
      );
    }
  });
});
