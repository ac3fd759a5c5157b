import { describe, expect, it } from '@jest/globals';
import {
  MalformedInputError,
  packetPageSchema,
  parseAck,
  parseWire,
  sendResultSchema,
} from '../../src/core/index.js';

const parse = (value: unknown) => parseAck(sendResultSchema, value, 'ack');

describe('acknowledgement schemas (what a client parses from the relay)', () => {
  it('accepts a result and a refusal', () => {
    expect(parse({ ok: true, seq: 3, serverTime: 5, duplicate: false })).toEqual({
      ok: true,
      result: { seq: 3, serverTime: 5, duplicate: false },
    });
    const refusal = { ok: false, error: { code: 'RATE_LIMITED', message: 'Slow down.' } };
    expect(parse(refusal)).toEqual(refusal);
  });

  it.each([
    [
      'a result with extra fields',
      { ok: true, seq: 3, serverTime: 5, duplicate: false, admin: true },
    ],
    ['a refusal with a result mixed in', { ok: false, error: { code: 'X', message: 'm' }, seq: 1 }],
    ['a zero sequence number', { ok: true, seq: 0, serverTime: 5, duplicate: false }],
    ['a lowercase error code', { ok: false, error: { code: 'x', message: 'm' } }],
    ['no ok flag', { seq: 3, serverTime: 5, duplicate: false }],
  ])('refuses %s', (_why, value) => {
    expect(() => parse(value)).toThrow(MalformedInputError);
  });

  it('refuses a page longer than the page limit', () => {
    expect(() =>
      parseWire(packetPageSchema, { packets: new Array(501).fill({}), more: false }, 'page'),
    ).toThrow();
  });
});
