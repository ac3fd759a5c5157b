import { hkdf, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { base64ToBytes, bytesToBase64, concatBytes, hexToBytes, utf8ToBytes } from './encoding.js';
import { sha256 } from './digest.js';
import {
  KdfAboveCeilingError,
  KdfBelowFloorError,
  OversizeError,
  WeakPasswordError,
} from './errors.js';
import { LABELS } from './labels.js';
import { asBytes } from './node-bytes.js';
import { systemRandom, type RandomSource } from './random.js';
import { base64Bytes, identifierSchema, parseWire } from './schemas.js';

/** The only KDF of protocol v1. */
export const KDF_ALGORITHM = 'pbkdf2-sha256';
/** The floor: no client derives with fewer iterations, whoever supplied the parameters. */
export const KDF_MIN_ITERATIONS = 600_000;
/** The ceiling: a hostile server cannot make a client derive for minutes. */
export const KDF_MAX_ITERATIONS = 10_000_000;
/** Default iterations for new registrations. */
export const KDF_DEFAULT_ITERATIONS = 600_000;
/** PBKDF2 salt length in bytes. */
export const KDF_SALT_BYTES = 16;
/** PBKDF2 output length in bytes (the HKDF input key material). */
export const KDF_MASTER_BYTES = 32;
/** Length of each HKDF output (key-encryption key and login proof) in bytes. */
export const KDF_SUBKEY_BYTES = 32;
/** Fewest characters a new password may have. */
export const PASSWORD_MIN_LENGTH = 8;
/** Most characters (code points, after NFKC) a password may have, so derivation input stays bounded. */
export const PASSWORD_MAX_LENGTH = 1024;
/** Raw input longer than this (UTF-16 units) is refused before NFKC runs on it. */
const PASSWORD_RAW_MAX_LENGTH = 4 * PASSWORD_MAX_LENGTH;

/** Per-user KDF parameters, stored by the server and handed out at prelogin. */
export const kdfParamsSchema = z.strictObject({
  algorithm: z.literal(KDF_ALGORITHM),
  iterations: z.number().int(),
  salt: base64Bytes(KDF_SALT_BYTES),
});

/** Per-user KDF parameters, as parsed from the wire. */
export type KdfParams = z.infer<typeof kdfParamsSchema>;

/** The two independent secrets derived from a password. */
export interface PasswordKeys {
  /** AES-256 key that wraps the private key; never leaves the client. */
  readonly keyEncryptionKey: Uint8Array;
  /** Proof of the password sent at login; the server stores only its hash. */
  readonly loginProof: Uint8Array;
  /** AES-256 key that wraps this device's local history key; never leaves the device. */
  readonly historyWrapKey: Uint8Array;
}

const pbkdf2Async = promisify(pbkdf2);
const hkdfAsync = promisify(hkdf);

/** Fresh parameters for a new wrap (registration, password change, KDF upgrade); a fresh salt. */
export function newKdfParams(
  random: RandomSource = systemRandom,
  iterations = KDF_DEFAULT_ITERATIONS,
): KdfParams {
  return parseKdfParams({
    algorithm: KDF_ALGORITHM,
    iterations,
    salt: bytesToBase64(random(KDF_SALT_BYTES)),
  });
}

/** Parses KDF parameters from any source and enforces the floor and the ceiling. */
export function parseKdfParams(input: unknown): KdfParams {
  const params = parseWire(kdfParamsSchema, input, 'KDF parameters');
  if (params.iterations < KDF_MIN_ITERATIONS) {
    throw new KdfBelowFloorError(
      `The server offered ${params.iterations} PBKDF2 iterations, below the floor of ${KDF_MIN_ITERATIONS}; refusing, as that would expose your password to cheap guessing.`,
    );
  }
  if (params.iterations > KDF_MAX_ITERATIONS) {
    throw new KdfAboveCeilingError(
      `The server asked for ${params.iterations} PBKDF2 iterations, above the ceiling of ${KDF_MAX_ITERATIONS}; refusing.`,
    );
  }
  return params;
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** The password in its one canonical form (NFKC) and its length in code points. */
function normalizePassword(password: unknown): { text: string; length: number } {
  if (typeof password !== 'string' || password.length === 0) {
    throw new WeakPasswordError('A password must be non-empty text.');
  }
  const text = password.length <= PASSWORD_RAW_MAX_LENGTH ? password.normalize('NFKC') : '';
  const length = codePoints(text);
  if (text === '' || length > PASSWORD_MAX_LENGTH) {
    throw new OversizeError(`A password is at most ${PASSWORD_MAX_LENGTH} characters.`);
  }
  return { text, length };
}

/** Refuses a new password that is too short; called at registration and password change only. */
export function assertPasswordAcceptable(password: unknown): void {
  if (normalizePassword(password).length < PASSWORD_MIN_LENGTH) {
    throw new WeakPasswordError(`A password needs at least ${PASSWORD_MIN_LENGTH} characters.`);
  }
}

/**
 * PBKDF2-HMAC-SHA256 of the NFKC password, salted with the identifier and the per-user salt, so a
 * server that serves one salt to every user still cannot attack them all at once. Enforces the floor.
 */
export async function derivePasswordMaster(
  password: unknown,
  identifier: string,
  params: unknown,
): Promise<Uint8Array> {
  const checked = parseKdfParams(params);
  const salt = concatBytes([
    hexToBytes(parseWire(identifierSchema, identifier, 'identifier')),
    base64ToBytes(checked.salt, 'salt'),
  ]);
  const secret = utf8ToBytes(normalizePassword(password).text, 'password');
  return asBytes(await pbkdf2Async(secret, salt, checked.iterations, KDF_MASTER_BYTES, 'sha256'));
}

/** HKDF-SHA256 split of the PBKDF2 output into keys that reveal nothing about each other. */
export async function splitPasswordMaster(master: Uint8Array): Promise<PasswordKeys> {
  const expand = async (label: string) =>
    asBytes(
      await hkdfAsync('sha256', master, new Uint8Array(0), utf8ToBytes(label), KDF_SUBKEY_BYTES),
    );
  return {
    keyEncryptionKey: await expand(LABELS.keyEncryptionKey),
    loginProof: await expand(LABELS.loginProof),
    historyWrapKey: await expand(LABELS.localHistoryKey),
  };
}

/** Password to key-encryption key and login proof, refusing parameters outside [floor, ceiling]. */
export async function derivePasswordKeys(
  password: unknown,
  identifier: string,
  params: unknown,
): Promise<PasswordKeys> {
  return splitPasswordMaster(await derivePasswordMaster(password, identifier, params));
}

/** What the server stores instead of the login proof: SHA-256 of it. */
export function hashLoginProof(loginProof: Uint8Array): Uint8Array {
  return sha256(loginProof);
}
