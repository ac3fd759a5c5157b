import { framedBytes } from './canonical-bytes.js';
import { concatBytes, hexToBytes } from './encoding.js';
import { sha512 } from './digest.js';
import { LABELS } from './labels.js';
import type { PublicKey } from './keys.js';
import { identifierSchema, parseWire } from './schemas.js';

/** SHA-512 rounds per half, as in Signal: makes searching for a colliding key costly. */
export const SAFETY_NUMBER_ITERATIONS = 5200;

/** One side of a conversation: who, and the key the client holds for them. */
export interface SafetyNumberParty {
  readonly identifier: string;
  readonly publicKey: Pick<PublicKey, 'spki'>;
}

function halfDigits(party: SafetyNumberParty): string {
  const spki = party.publicKey.spki;
  let hash = sha512(
    framedBytes(LABELS.safetyNumber, [
      hexToBytes(parseWire(identifierSchema, party.identifier, 'identifier')),
      spki,
    ]),
  );
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) hash = sha512(concatBytes([hash, spki]));
  let digits = '';
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0;
    for (let i = 0; i < 5; i++) value = value * 256 + (hash[chunk * 5 + i] ?? 0);
    digits += String(value % 100000).padStart(5, '0');
  }
  return digits;
}

/**
 * The 60-digit number two people compare out of band to detect a substituted key: the same on
 * both sides, whoever computes it, in 12 groups of 5 digits.
 */
export function safetyNumber(a: SafetyNumberParty, b: SafetyNumberParty): string {
  const [first, second] = a.identifier <= b.identifier ? [a, b] : [b, a];
  const digits = halfDigits(first) + halfDigits(second);
  return (digits.match(/\d{5}/g) ?? []).join(' ');
}
