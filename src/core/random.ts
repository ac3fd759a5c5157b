import { randomBytes } from 'node:crypto';
import { asBytes } from './node-bytes.js';

/** Where core's fresh IVs, keys, salts and ids come from; injectable so test vectors are fixed. */
export type RandomSource = (length: number) => Uint8Array;

/** The operating system's CSPRNG, the only source outside tests. */
export const systemRandom: RandomSource = (length) => asBytes(randomBytes(length));
